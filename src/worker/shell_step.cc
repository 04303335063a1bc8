#include "worker/shell_step.h"

#include <fmt/format.h>

#include "worker/command_sequence.h"
#include "worker/platform.h"

namespace grove {

void ShellStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  ChildOptions opts;
  auto log = ctx.log;
  if (!spec.argv.empty()) {
    opts.argv = spec.argv;
  } else if (Status st = SetShellCommand(spec.command, ShellOf(spec), &opts); !st.ok()) {
    log(fmt::format("[grove] {}\n", st.message()));
    return done(Result::kException);
  }
  opts.env = spec.env;
  opts.workdir = StepDir(ctx);
  opts.timeout = std::chrono::seconds(spec.timeout_s);
  int64_t timeout = spec.timeout_s;
  // decode_rc maps exit codes to results, e.g. { ["0"] = "success", ["1"] = "warnings" }.
  Json decode = spec.options.value("decode_rc", Json());
  child_ = ChildProcess::Start(
      *ctx.io, opts, [log](std::string_view chunk) { log(chunk); },
      [log, done, timeout, decode](const ChildExit& exit) {
        done(ResultOfExit(exit, timeout, decode.is_object() ? &decode : nullptr, log));
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
