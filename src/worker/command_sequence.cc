#include "worker/command_sequence.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace grove {

std::string ShellQuoteForLog(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    if (!a.empty() && a.find_first_of(" \t\n'\"$\\*?;&|<>()") == std::string::npos) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

Result ResultOfExit(const ChildExit& exit, int64_t timeout_s, const Json* decode_rc,
                    const std::function<void(std::string_view)>& log) {
  if (!exit.error.empty()) {
    log(fmt::format("\n[grove] {}\n", exit.error));
    return Result::kException;
  }
  if (exit.cancelled) {
    log("\n[grove] step cancelled: process group killed\n");
    return Result::kCancelled;
  }
  if (exit.timed_out) {
    log(fmt::format("\n[grove] step timed out after {}s: process group killed\n", timeout_s));
    return Result::kFailure;
  }
  if (exit.signal) {
    log(fmt::format("\n[grove] command killed by signal {}\n", exit.signal));
    return Result::kFailure;
  }
  if (decode_rc && decode_rc->is_object()) {
    std::string code = std::to_string(exit.exit_code);
    if (decode_rc->contains(code) && (*decode_rc)[code].is_string()) {
      std::string name = (*decode_rc)[code].get<std::string>();
      std::optional<Result> r = ParseResult(name);
      if (r) {
        if (exit.exit_code != 0)
          log(fmt::format("\n[grove] command exited with code {} (decode_rc: {})\n", exit.exit_code,
                          name));
        return *r;
      }
    }
  }
  if (exit.exit_code != 0)
    log(fmt::format("\n[grove] command exited with code {}\n", exit.exit_code));
  return ResultFromExitCode(exit.exit_code);
}

CommandSequence::CommandSequence(boost::asio::io_context& io, ChildOptions base,
                                 std::function<void(std::string_view)> log)
    : io_(io), base_(std::move(base)), log_(std::move(log)) {}

void CommandSequence::Run(std::vector<SequenceCommand> commands, Done done) {
  commands_ = std::move(commands);
  done_ = std::move(done);
  next_ = 0;
  Next();
}

void CommandSequence::Next() {
  if (cancelled_) return done_(Result::kCancelled, std::move(captured_));
  if (next_ >= commands_.size()) return done_(Result::kSuccess, std::move(captured_));
  const SequenceCommand& cmd = commands_[next_++];
  log_("$ " + ShellQuoteForLog(cmd.argv) + "\n");
  ChildOptions opts = base_;
  opts.argv = cmd.argv;
  current_output_.clear();
  bool capture = cmd.capture, show = cmd.log_output;
  child_ = ChildProcess::Start(
      io_, opts,
      [this, capture, show](std::string_view chunk) {
        if (capture) current_output_.append(chunk);
        if (show) log_(chunk);
      },
      [this, capture](const ChildExit& exit) {
        Result r = ResultOfExit(exit, base_.timeout.count(), nullptr, log_);
        if (capture) captured_.push_back(std::move(current_output_));
        // Leave the child's callback before starting the next one (which replaces child_).
        boost::asio::post(io_, [this, r] {
          if (r != Result::kSuccess) return done_(r, std::move(captured_));
          Next();
        });
      });
}

void CommandSequence::Cancel() {
  cancelled_ = true;
  if (child_) child_->Cancel();
}
void CommandSequence::PauseOutput() {
  if (child_) child_->PauseOutput();
}
void CommandSequence::ResumeOutput() {
  if (child_) child_->ResumeOutput();
}

}  // namespace grove
