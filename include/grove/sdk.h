// Grove's C++ consumer SDK: write a consumer as a class, and make a worker binary that serves
// it (and others) on either broker in a few lines of main:
//
//   class Echo : public grove::sdk::Consumer {
//    public:
//     grove::sdk::Outcome Consume(const nlohmann::json& payload, grove::sdk::Context&) override {
//       return grove::sdk::Outcome::Success(payload);
//     }
//   };
//
//   int main(int argc, char** argv) {
//     grove::sdk::Worker worker;
//     worker.Add("echo", std::make_unique<Echo>());
//     return worker.Run(argc, argv);  // the flags of `grove worker`
//   }
//
// Build with `pkg-config --cflags --libs grove-sdk` (C++20). docs/sdk.md is the guide.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace grove::sdk {

// What a consumer returns: success or failure, an optional JSON result (stored with the step,
// GET /api/v1/builds/ID shows it as the step's result_json) and an optional message (a line in
// the step's log).
class Outcome {
 public:
  static Outcome Success(nlohmann::json result = nullptr, std::string message = {});
  static Outcome Failure(std::string message, nlohmann::json result = nullptr);

  bool ok() const { return ok_; }
  const nlohmann::json& result() const { return result_; }  // null: no result
  const std::string& message() const { return message_; }

 private:
  Outcome(bool ok, nlohmann::json result, std::string message);
  bool ok_;
  nlohmann::json result_;
  std::string message_;
};

namespace internal {
struct Call;  // the worker's side of one consume step
}

// The step a Consume call runs for. Valid only during that call.
class Context {
 public:
  // Made by the worker for each call; consumers are handed one.
  explicit Context(const internal::Call& call);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Appends |line| (a newline is added when missing) to the step's log, which the master stores
  // and the web UI shows live. Secrets of the job are masked as in any step's output. Safe from
  // any thread while Consume runs; lines logged after it returned are dropped.
  void Log(std::string_view line);
  // True once the master cancelled the step (POST /api/v1/builds/ID/stop), its timeout expired
  // or the worker is stopping. A long consumer should check it now and then and return: the
  // step ends only when Consume returns.
  bool cancelled() const;
  int64_t request_id() const;
  int attempt() const;  // 2 and more: the job runs again (its earlier worker died, say)
  const std::string& consumer() const;  // the name it was registered under

 private:
  const internal::Call& call_;
};

// A consumer: override Consume. It runs on a worker thread, never on the worker's network
// thread, and may be called on several threads at once (one per job the worker runs at once,
// --capacity): keep per-call state local, or guard what is shared. Throwing is fine: the step
// ends as `exception` with the exception's what() in its log.
class Consumer {
 public:
  virtual ~Consumer();
  virtual Outcome Consume(const nlohmann::json& payload, Context& ctx) = 0;
};

// A worker binary: register consumers, then Run.
class Worker {
 public:
  Worker();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Serves consume steps for |name| with |consumer|. Call before Run.
  void Add(std::string name, std::unique_ptr<Consumer> consumer);
  // Parses the flags of `grove worker` (--master URL or --broker AMQP-URL, --name, --secret-file,
  // --capacity, --tags, --workdir, --consumer NAME=COMMAND, --log-level; --help lists them) and
  // runs the worker until SIGINT/SIGTERM. Returns the process exit code: 0 after a signal, 1 on
  // a failure (master refused the worker, broker unreachable), 2 on bad flags.
  int Run(int argc, char** argv);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grove::sdk
