// How every thread that owns a RabbitMQ connection (the master's consumer and publisher, the
// worker's consumer and publisher) waits between attempts to connect, at start as after a drop
// (docs/operations.md, "RabbitMQ down"): 0.5 s after the first failure, twice as long after each
// next one, at most 30 s; back to 0.5 s once connected. Each failed attempt is one log line, so
// a broker down for an hour costs about 120 lines per thread, not a flood.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

namespace grove::amqp {

class RetryDelay {
 public:
  static constexpr int kFirstMs = 500;
  static constexpr int kMaxMs = 30000;

  // The wait before the next attempt; the one after will be twice as long.
  int Next() {
    const int ms = next_ms_;
    next_ms_ = std::min(next_ms_ * 2, kMaxMs);
    ++failures_;
    return ms;
  }
  // Connected: the next failure waits kFirstMs again.
  void Reset() {
    next_ms_ = kFirstMs;
    failures_ = 0;
  }
  // Failed attempts since the last success.
  int failures() const { return failures_; }

 private:
  int next_ms_ = kFirstMs;
  int failures_ = 0;
};

// "0.5 s", "30 s": a delay for the log.
inline std::string DelayText(int ms) {
  char buf[32];
  if (ms % 1000 == 0)
    std::snprintf(buf, sizeof buf, "%d s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

}  // namespace grove::amqp
