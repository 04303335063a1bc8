// TriggerStep: starts builds on the master through a triggerable scheduler (or of a builder)
// and, with wait = true, follows them and takes their worst result.
//
// It calls the master's HTTP API (docs/protocol.md, "Trigger steps") with the job's api_token:
// POST /api/v1/trigger, then GET /api/v1/trigger/requests/{id} once a second. The calls are
// blocking (http_call.h's PerformHttp), so they run on a thread of their own; log lines and the
// result are posted back to the worker's io_context.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "worker/step_executor.h"

namespace grove {

class TriggerStep : public StepExecutor {
 public:
  ~TriggerStep() override;
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
};

}  // namespace grove
