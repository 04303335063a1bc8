// ConsumeStep: runs the consumer this worker registered under the step's `consumer` name with
// the step's JSON `payload`: an in-process consumer (C++ SDK, in_process_consumers.h) when one
// has that name, else a command (grove worker --consumer NAME=COMMAND).
//
// An in-process consumer runs on the registry's pool; Cancel sets its cancelled flag (and so does
// the step's timeout), but the step ends only when the consumer returns — a consumer that ignores
// the flag runs to its end, and its step is then reported cancelled (or failed, on a timeout).
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

  ConsumeStep();  // out of line: Timeout is complete only in the .cc
  ~ConsumeStep() override;

 private:
  struct Call;  // an in-process call, shared with the pool thread that runs it
  void StartInProcess(const StepContext& ctx, const std::string& name, Json payload,
                      std::function<void(Result)> done);

  std::unique_ptr<ChildProcess> child_;
  std::shared_ptr<Call> call_;
  struct Timeout;  // the step's timeout for an in-process call (a timer on the io thread)
  std::unique_ptr<Timeout> timeout_;
};

}  // namespace grove
