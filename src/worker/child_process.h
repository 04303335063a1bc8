// ChildProcess: one step's command, run as a child in a process group of its own.
//
// stdin is /dev/null; stdout and stderr share one pipe so the log keeps their order. Output is
// delivered in chunks as it comes; the exit is delivered once, after the process has exited and
// the pipe has been read to its end. A timeout or Cancel() kills the whole group (grandchildren
// too): SIGTERM, then SIGKILL after a grace period. All callbacks run on the io_context's thread.
//
// Implementations: child_process.cc (POSIX: a process group, a pidfd) and
// windows/child_process_win.cc (a Job Object, which is killed as a whole; no grace period).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boost::asio {
class io_context;
}

namespace grove {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  // Windows only: the command line exactly as given (cmd.exe has quoting rules of its own), with
  // argv[0] the program to start. Empty: the command line is argv quoted by the rules of
  // CommandLineToArgvW (windows/command_line.h).
  std::string command_line;
  std::map<std::string, std::string> env;  // added to (or replacing in) the worker's env
  std::string stdin_file;                  // read as stdin ("": the null device)
  std::string stdout_file;  // stdout written here, truncated ("": with stderr, to on_output)
  std::string workdir;      // created if missing
  std::chrono::seconds timeout{0};             // 0: no limit
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM → SIGKILL
};

struct ChildExit {
  int exit_code = -1;  // when the process exited normally
  int signal = 0;      // when it was killed by a signal
  bool timed_out = false;
  bool cancelled = false;
  std::string error;  // set when the command could not be started at all
};

class ChildProcess {
 public:
  using OutputFn = std::function<void(std::string_view chunk)>;
  using ExitFn = std::function<void(const ChildExit& exit)>;

  // Starts the command. A command that cannot be started (no such program, bad workdir) is
  // reported through |on_exit| with |error| set, asynchronously, like any other exit.
  static std::unique_ptr<ChildProcess> Start(boost::asio::io_context& io, const ChildOptions& opts,
                                             OutputFn on_output, ExitFn on_exit);

  virtual ~ChildProcess() = default;  // kills the group if it still runs

  // Kills the process group: SIGTERM, then SIGKILL after the grace period.
  virtual void Cancel() = 0;
  // Backpressure: while paused, the pipe is not read, so a chatty child blocks on write.
  virtual void PauseOutput() = 0;
  virtual void ResumeOutput() = 0;
  virtual int pid() const = 0;
};

}  // namespace grove
