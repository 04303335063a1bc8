// TestStep: a shell step that then reads the JUnit XML reports matching its junit glob(s) and
// reports the counts and the failing tests in step.finished's "tests". Failed tests make the step
// a failure; a report that cannot be read makes it (at least) warnings, with the reason logged.
#pragma once

#include "worker/shell_step.h"
#include "worker/step_executor.h"

namespace grove {

class TestStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override { shell_.Cancel(); }
  void PauseOutput() override { shell_.PauseOutput(); }
  void ResumeOutput() override { shell_.ResumeOutput(); }

 private:
  ShellStep shell_;
};

}  // namespace grove
