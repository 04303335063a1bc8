// GitStep: brings the build directory (or its workdir) to the build's source stamp.
//
// Options (docs/config.md, git): repo, branch, revision, mode ("incremental" keeps the checkout
// and fetches; "full" starts from an empty directory), shallow, submodules. The source stamp's
// revision and branch win over the configured ones. The revision checked out is reported as the
// got_revision property.
#pragma once

#include <memory>

#include "worker/command_sequence.h"
#include "worker/step_executor.h"

namespace grove {

class GitStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;
  void PauseOutput() override;
  void ResumeOutput() override;

 private:
  std::unique_ptr<CommandSequence> seq_;
};

}  // namespace grove
