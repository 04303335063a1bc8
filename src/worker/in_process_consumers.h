// Consumers that run inside the worker process (the C++ SDK, include/grove/sdk.h) instead of as
// a command (grove worker --consumer NAME=COMMAND). A consume step looks its consumer's name up
// here first, then in the command map.
//
// Consumers block (they are the user's code), so they never run on the worker's io thread: each
// call runs on a small pool of threads owned by this registry, which grows on demand to the
// number of consume steps running at once — at most the worker's capacity, since a job runs one
// step at a time and a cancelled consumer keeps its job slot until it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"
#include "core/result.h"

namespace boost::asio {
class io_context;
}

namespace grove {

// What a consumer is given: everything here is valid until the consumer returns.
struct InProcessCall {
  Json payload;
  std::string consumer;
  int64_t request_id = 0;
  int attempt = 0;
  // Appends to the step's log; callable from any thread (it is marshalled to the io thread,
  // where the log goes through the same secret masking and chunking as every step's output).
  std::function<void(std::string_view)> log;
  // Set when the master cancels the step, or its timeout expires.
  const std::atomic<bool>* cancelled = nullptr;
};

struct InProcessReply {
  Result result = Result::kSuccess;
  Json result_json;     // null: none; else the step's result_json
  std::string message;  // when not empty, a line in the step's log
};

using InProcessConsumerFn = std::function<InProcessReply(const InProcessCall&)>;

class InProcessConsumers {
 public:
  InProcessConsumers();
  // Waits for the consumers still running to return (a consumer that ignores cancellation
  // delays the worker's exit); calls never started are dropped.
  ~InProcessConsumers();
  InProcessConsumers(const InProcessConsumers&) = delete;
  InProcessConsumers& operator=(const InProcessConsumers&) = delete;

  // Registers (or replaces) |name|. Not thread-safe: register before the worker runs.
  void Add(std::string name, InProcessConsumerFn fn);
  // nullptr when |name| is not registered here.
  const InProcessConsumerFn* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

  // At most |n| pool threads (0: no limit; the worker's capacity bounds the calls anyway).
  void set_max_threads(int n);
  // Runs |task| on a pool thread. |task| must not throw. With |io| (the caller runs on its
  // thread), a pool thread that must be woken for it is woken once |io| has run the handlers it
  // had ready: the calls they submit share that wake-up instead of taking one each.
  void Submit(std::function<void()> task, boost::asio::io_context* io = nullptr);

 private:
  struct Pool;
  std::map<std::string, InProcessConsumerFn> fns_;
  std::shared_ptr<Pool> pool_;  // shared with the deferred wake-ups posted to an io_context
};

}  // namespace grove
