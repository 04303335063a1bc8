// ShellStep: runs a command (through the platform's shell, platform.h's SetShellCommand, or an argv
// directly) in the build directory.
#pragma once

#include "worker/child_process.h"
#include "worker/step_executor.h"

namespace grove {

class ShellStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;
  void PauseOutput() override;
  void ResumeOutput() override;

 private:
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace grove
