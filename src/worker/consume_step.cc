#include "worker/consume_step.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "worker/command_sequence.h"

namespace grove {

namespace {

constexpr size_t kMaxResult = 1024 * 1024;

bool WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out.flush());
}

}  // namespace

void ConsumeStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  auto log = ctx.log;
  std::string name = spec.options.value("consumer", "");
  auto it = ctx.job->consumers.find(name);
  if (name.empty() || it == ctx.job->consumers.end()) {
    log(
        fmt::format("[grove] this worker has no consumer '{}' (grove worker --consumer "
                    "NAME=COMMAND)\n",
                    name));
    return done(Result::kException);
  }
  Json payload = spec.options.value("payload", Json::object());
  // Consumer jobs (the implicit "consume:NAME" builders) take it from a property instead.
  std::string from = spec.options.value("payload_property", "");
  if (!from.empty()) {
    payload = Json::object();
    if (ctx.properties && ctx.properties->contains(from)) payload = (*ctx.properties)[from];
  }
  // One pair of files per step, next to the build directory's other contents.
  std::filesystem::path dir(ctx.builddir);
  std::string stem = fmt::format(".grove-consume-{}-{}", ctx.job->request_id, ctx.job->attempt);
  std::filesystem::path payload_file = dir / (stem + ".payload.json");
  std::filesystem::path result_file = dir / (stem + ".result.json");
  std::error_code ec;
  std::filesystem::remove(result_file, ec);
  if (!WriteFile(payload_file, payload.dump())) {
    log(fmt::format("[grove] cannot write {}\n", payload_file.string()));
    return done(Result::kException);
  }
  ChildOptions opts;
  // The redirections apply to the whole script, so COMMAND may be any shell text.
  opts.argv = {"/bin/sh", "-c",
               "exec <\"$GROVE_PAYLOAD_FILE\" >\"$GROVE_RESULT_FILE\"\n" + it->second};
  opts.env = spec.env;
  opts.env["GROVE_CONSUMER"] = name;
  opts.env["GROVE_PAYLOAD_FILE"] = payload_file.string();
  opts.env["GROVE_RESULT_FILE"] = result_file.string();
  opts.workdir = spec.workdir.empty() ? ctx.builddir : (dir / spec.workdir).string();
  opts.timeout = std::chrono::seconds(spec.timeout_s);
  int64_t timeout = spec.timeout_s;
  Json* report = ctx.report;
  child_ = ChildProcess::Start(
      *ctx.io, opts, [log](std::string_view chunk) { log(chunk); },
      [log, done, timeout, report, payload_file, result_file](const ChildExit& exit) {
        Result r = ResultOfExit(exit, timeout, nullptr, log);
        std::error_code ec;
        std::filesystem::remove(payload_file, ec);
        std::ifstream in(result_file, std::ios::binary);
        std::stringstream buf;
        if (in) buf << in.rdbuf();
        in.close();
        std::filesystem::remove(result_file, ec);
        std::string out = buf.str();
        if (out.find_first_not_of(" \t\r\n") == std::string::npos) return done(r);
        if (out.size() > kMaxResult) {
          log("[grove] the consumer's result is larger than 1 MiB: dropped\n");
          return done(r == Result::kSuccess ? Result::kFailure : r);
        }
        Json result = Json::parse(out, nullptr, /*allow_exceptions=*/false);
        if (result.is_discarded()) {
          log("[grove] the consumer's result (its stdout) is not JSON\n");
          return done(r == Result::kSuccess ? Result::kFailure : r);
        }
        if (report) (*report)["result_json"] = std::move(result);
        done(r);
      });
}

void ConsumeStep::Cancel() {
  if (child_) child_->Cancel();
}
void ConsumeStep::PauseOutput() {
  if (child_) child_->PauseOutput();
}
void ConsumeStep::ResumeOutput() {
  if (child_) child_->ResumeOutput();
}

}  // namespace grove
