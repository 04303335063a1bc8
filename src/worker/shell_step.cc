#include "worker/shell_step.h"

#include <fmt/format.h>

#include <filesystem>

#include "worker/command_sequence.h"

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
