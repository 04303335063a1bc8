// ConsumeStep: runs the consumer this worker registered under the step's `consumer` name
// (grove worker --consumer NAME=COMMAND) with the step's JSON `payload`.
//
// The command runs through /bin/sh with stdin redirected from a file holding the payload and
// stdout redirected to a result file, so its stderr alone goes to the step's log (ChildProcess
// merges stdout and stderr into one pipe). What it prints on stdout, when not empty, must be
// JSON: it becomes the step's `result_json`. Exit code 0 is success, anything else failure.
#pragma once

#include <memory>
#include <string>

#include "worker/child_process.h"
#include "worker/step_executor.h"

namespace grove {

class ConsumeStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;
  void PauseOutput() override;
  void ResumeOutput() override;

 private:
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace grove
