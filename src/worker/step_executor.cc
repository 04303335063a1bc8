#include "worker/step_executor.h"

#include "worker/artifact_steps.h"
#include "worker/consume_step.h"
#include "worker/git_step.h"
#include "worker/publish_step.h"
#include "worker/set_property_step.h"
#include "worker/shell_step.h"
#include "worker/test_step.h"
#include "worker/trigger_step.h"

namespace grove {

std::unique_ptr<StepExecutor> MakeStepExecutor(const std::string& type) {
  if (type == "shell") return std::make_unique<ShellStep>();
  if (type == "git") return std::make_unique<GitStep>();
  if (type == "test") return std::make_unique<TestStep>();
  if (type == "set_property") return std::make_unique<SetPropertyStep>();
  if (type == "upload") return std::make_unique<UploadStep>();
  if (type == "download") return std::make_unique<DownloadStep>();
  if (type == "publish") return std::make_unique<PublishStep>();
  if (type == "trigger") return std::make_unique<TriggerStep>();
  if (type == "consume") return std::make_unique<ConsumeStep>();
  return nullptr;
}

}  // namespace grove
