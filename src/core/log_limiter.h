// LogLimiter: lets one log line through per interval and counts the ones it holds back, for
// messages a peer can trigger in a loop (a flood of connections must not flood the log).
// Not thread-safe: each user keeps its own, on one thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace grove {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // True if a line may go out now; then |*suppressed| is the number held back since the last
  // line that went out.
  bool Allow(uint64_t* suppressed) {
    auto now = std::chrono::steady_clock::now();
    if (started_ && now - last_ < interval_) {
      ++held_;
      return false;
    }
    started_ = true;
    last_ = now;
    *suppressed = held_;
    held_ = 0;
    return true;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t held_ = 0;
  bool started_ = false;
};

}  // namespace grove
