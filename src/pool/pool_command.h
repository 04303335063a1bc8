// Runs an on-demand pool's start and stop commands off the core loop: each on a thread of its
// own (a start may take minutes: a virtual machine booting), bounded in time by the child's own
// `timeout` (changes/bounded_child.h) and in output. The runner joins its threads when it is
// destroyed; commands still running then are ended (SIGTERM to their process group).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "changes/bounded_child.h"
#include "core/status.h"

namespace grove::pool {

struct CommandOutcome {
  Status status;       // Ok: exit code 0; otherwise why not (exit code, signal, cannot run)
  std::string output;  // stdout and stderr, at most kMaxCommandOutput bytes (the end is kept)
  int64_t duration_ms = 0;
};

inline constexpr size_t kMaxCommandOutput = 8192;

// Runs |cmd| to its end (blocking). The command's leader exiting ends it: what it started in
// the background (the worker it launched) is left running and no longer read from.
CommandOutcome RunCommand(const BoundedCommand& cmd, const std::atomic<bool>& cancel);

class CommandRunner {
 public:
  CommandRunner() = default;
  ~CommandRunner();
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Runs |cmd| on a new thread; |done| is called on that thread.
  void Run(BoundedCommand cmd, std::function<void(CommandOutcome)> done);

 private:
  struct Job {
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  void ReapFinished();  // with mu_ held

  std::mutex mu_;
  std::list<std::unique_ptr<Job>> jobs_;
  std::atomic<bool> cancel_{false};
};

}  // namespace grove::pool
