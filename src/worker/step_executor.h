// StepExecutor: how a worker runs one kind of step (DESIGN.md, "Step executor"). One class per
// step type behind this interface; MakeStepExecutor picks it from the step's type.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/protocol.h"
#include "core/result.h"

namespace boost::asio {
class io_context;
}

namespace grove {

class InProcessConsumers;

struct StepContext {
  boost::asio::io_context* io = nullptr;
  const JobSpec* job = nullptr;
  const StepSpec* step = nullptr;
  std::string builddir;                       // absolute; exists
  std::function<void(std::string_view)> log;  // appends to the step's log
  const Json* properties = nullptr;           // the build's properties as this step starts
  // What the step adds to its step.finished event (docs/protocol.md): "properties" (merged into
  // the build's properties, visible to later steps) and "tests" (JUnit counts).
  Json* report = nullptr;
  std::string master_url;  // the master's HTTP base URL, for artifacts
  // Consumers registered in this process (C++ SDK); consume steps look here first. May be null.
  InProcessConsumers* in_process = nullptr;
};

class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  // Starts the step; |done| is called once with its result, on the io_context's thread.
  virtual void Start(const StepContext& ctx, std::function<void(Result)> done) = 0;
  virtual void Cancel() = 0;
  virtual void PauseOutput() {}
  virtual void ResumeOutput() {}
};

// The directory a step runs in: its workdir under the build directory. The job runner has checked
// the workdir (platform.h's PathInBuildDir) before the step starts.
std::string StepDir(const StepContext& ctx);
// The step's `shell` option ("" when unset: the platform's default shell).
std::string ShellOf(const StepSpec& step);

// nullptr when the type is unknown to this worker.
std::unique_ptr<StepExecutor> MakeStepExecutor(const std::string& type);

}  // namespace grove
