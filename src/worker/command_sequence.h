// CommandSequence: runs several commands one after the other for one step (git's init, fetch,
// checkout, ...), logging each command line and its output, stopping at the first failure.
// A command may have its output captured instead of (or as well as) logged.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/result.h"
#include "worker/child_process.h"

namespace grove {

struct SequenceCommand {
  std::vector<std::string> argv;
  bool capture = false;    // keep the output (see Done's |captured|)
  bool log_output = true;  // also send the output to the log
};

class CommandSequence {
 public:
  // |captured| holds the output of each command with capture = true, in order.
  using Done = std::function<void(Result, std::vector<std::string> captured)>;

  CommandSequence(boost::asio::io_context& io, ChildOptions base,
                  std::function<void(std::string_view)> log);
  void Run(std::vector<SequenceCommand> commands, Done done);
  void Cancel();
  void PauseOutput();
  void ResumeOutput();

 private:
  void Next();

  boost::asio::io_context& io_;
  ChildOptions base_;
  std::function<void(std::string_view)> log_;
  std::vector<SequenceCommand> commands_;
  size_t next_ = 0;
  std::vector<std::string> captured_;
  std::string current_output_;
  std::unique_ptr<ChildProcess> child_;
  bool cancelled_ = false;
  Done done_;
};

// The command line as a log shows it: arguments with spaces or quotes are single-quoted.
std::string ShellQuoteForLog(const std::vector<std::string>& argv);

// Turns a finished ChildExit into a step result, logging why it is not a success. |decode_rc|
// maps exit codes (as strings) to result names; an unmapped non-zero code is a failure.
Result ResultOfExit(const ChildExit& exit, int64_t timeout_s, const Json* decode_rc,
                    const std::function<void(std::string_view)>& log);

}  // namespace grove
