#include "worker/step_executor.h"

#include "worker/shell_step.h"

namespace grove {

std::unique_ptr<StepExecutor> MakeStepExecutor(const std::string& type) {
  if (type == "shell") return std::make_unique<ShellStep>();
  return nullptr;
}

}  // namespace grove
