// A Grove worker binary with two consumers, written against the C++ SDK (include/grove/sdk.h):
//
//   echo       returns its payload as its result (the trivial consumer of the benchmarks)
//   wordcount  counts the words of payload.text, `passes` times over with `pause_ms` between
//              passes (a stand-in for slow work), logging its progress and stopping early when
//              the step is cancelled
//
// It takes the flags of `grove worker` (see README.md).
#include <grove/sdk.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using grove::sdk::Context;
using grove::sdk::Outcome;
using nlohmann::json;

class Echo : public grove::sdk::Consumer {
 public:
  Outcome Consume(const json& payload, Context&) override { return Outcome::Success(payload); }
};

class WordCount : public grove::sdk::Consumer {
 public:
  Outcome Consume(const json& payload, Context& ctx) override {
    // A bad payload is the caller's mistake: throwing ends the step as `exception` with this
    // message in its log.
    if (!payload.contains("text") || !payload["text"].is_string())
      throw std::invalid_argument("payload.text must be a string");
    const std::string text = payload["text"];
    const int passes = payload.value("passes", 1);
    const int pause_ms = payload.value("pause_ms", 0);
    if (passes < 1) return Outcome::Failure("passes must be at least 1");

    std::map<std::string, int> counts;  // over one pass; every pass counts the same
    int64_t words = 0;
    for (int pass = 1; pass <= passes; ++pass) {
      // Checked between units of work: the step ends only when Consume returns.
      if (ctx.cancelled())
        return Outcome::Failure("cancelled after " + std::to_string(pass - 1) + " passes");
      std::istringstream in(text);
      counts.clear();
      for (std::string w; in >> w;) ++counts[w];
      for (const auto& [w, n] : counts) words += n;
      ctx.Log("pass " + std::to_string(pass) + "/" + std::to_string(passes) + ": " +
              std::to_string(words) + " words so far");
      if (pause_ms > 0 && pass < passes)
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
    if (words == 0) return Outcome::Failure("no words in payload.text");
    return Outcome::Success({{"words", words}, {"distinct", counts.size()}, {"counts", counts}});
  }
};

}  // namespace

int main(int argc, char** argv) {
  grove::sdk::Worker worker;
  worker.Add("echo", std::make_unique<Echo>());
  worker.Add("wordcount", std::make_unique<WordCount>());
  return worker.Run(argc, argv);
}
