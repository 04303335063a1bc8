#include "worker/shell_step.h"

#include <fmt/format.h>

#include <filesystem>

namespace grove {

void ShellStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  ChildOptions opts;
  opts.argv =
      spec.argv.empty() ? std::vector<std::string>{"/bin/sh", "-c", spec.command} : spec.argv;
  opts.env = spec.env;
  opts.workdir = spec.workdir.empty()
                     ? ctx.builddir
                     : (std::filesystem::path(ctx.builddir) / spec.workdir).string();
  opts.timeout = std::chrono::seconds(spec.timeout_s);
  auto log = ctx.log;
  int64_t timeout = spec.timeout_s;
  child_ = ChildProcess::Start(
      *ctx.io, opts, [log](std::string_view chunk) { log(chunk); },
      [log, done, timeout](const ChildExit& exit) {
        if (!exit.error.empty()) {
          log(fmt::format("\n[grove] {}\n", exit.error));
          return done(Result::kException);
        }
        if (exit.cancelled) {
          log("\n[grove] step cancelled: process group killed\n");
          return done(Result::kCancelled);
        }
        if (exit.timed_out) {
          log(fmt::format("\n[grove] step timed out after {}s: process group killed\n", timeout));
          return done(Result::kFailure);
        }
        if (exit.signal) {
          log(fmt::format("\n[grove] command killed by signal {}\n", exit.signal));
          return done(Result::kFailure);
        }
        if (exit.exit_code != 0)
          log(fmt::format("\n[grove] command exited with code {}\n", exit.exit_code));
        done(ResultFromExitCode(exit.exit_code));
      });
}

void ShellStep::Cancel() {
  if (child_) child_->Cancel();
}
void ShellStep::PauseOutput() {
  if (child_) child_->PauseOutput();
}
void ShellStep::ResumeOutput() {
  if (child_) child_->ResumeOutput();
}

}  // namespace grove
