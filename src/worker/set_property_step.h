// SetPropertyStep: sets a build property from a command's output (the command runs like a shell
// step's) or from a file's content, trimmed of surrounding whitespace. Later steps see it as
// ${prop:NAME}; the master stores it with the build.
#pragma once

#include <memory>

#include "worker/child_process.h"
#include "worker/step_executor.h"

namespace grove {

class SetPropertyStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string output_;
};

}  // namespace grove
