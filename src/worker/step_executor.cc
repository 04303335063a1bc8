#include "worker/step_executor.h"

#include "worker/artifact_steps.h"
#include "worker/consume_step.h"
#include "worker/git_step.h"
#include "worker/glob_files.h"
#include "worker/platform.h"
#include "worker/publish_step.h"
#include "worker/set_property_step.h"
#include "worker/shell_step.h"
#include "worker/test_step.h"
#include "worker/trigger_step.h"

namespace grove {

std::string StepDir(const StepContext& ctx) {
  std::string dir;
  if (!PathInBuildDir(ctx.builddir, ctx.step->workdir, &dir).ok()) return ctx.builddir;
  return dir;
}

std::string ShellOf(const StepSpec& step) {
  auto it = step.options.find("shell");
  return it != step.options.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> StringOrList(const Json& options, const char* key) {
  std::vector<std::string> out;
  if (!options.is_object() || !options.contains(key)) return out;
  const Json& v = options[key];
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array())
    for (const auto& item : v)
      if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

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
