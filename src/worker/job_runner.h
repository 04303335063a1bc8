// JobRunner: runs one job's steps in order on the worker and reports what happens as protocol
// events: job.started, step.started, log (chunked, numbered), step.finished, job.finished.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/protocol.h"
#include "core/result.h"
#include "worker/step_executor.h"

namespace boost::asio {
class io_context;
}

namespace grove {

// Where events go: the master link's outbox.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(Json event) = 0;
  // True while too much is waiting for the master: runners stop reading their commands' output
  // until Resume is called, so a step printing gigabytes keeps the worker's memory flat.
  virtual bool Congested() const = 0;
  // True when the master takes merged events (its welcome's "v" is kMergedEventsVersion or
  // more): a runner then folds a job's first step.started into job.started and its last
  // step.finished into job.finished (docs/protocol.md), two events per one-step job instead of 4.
  virtual bool MergesEvents() const { return false; }
};

class JobRunner {
 public:
  JobRunner(boost::asio::io_context& io, JobSpec job, std::string builddir, EventSink& sink,
            std::function<void(JobRunner&, Result)> on_done);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void Start();
  // Kills the running step and finishes the job as |as|: cancelled (the master asked), or
  // retry (the worker is stopping: the master runs the request again as the next attempt).
  void Cancel(Result as = Result::kCancelled);
  // Called by the agent when the outbox has drained.
  void ResumeOutput();

  const JobSpec& job() const { return job_; }
  const std::string& builddir() const { return builddir_; }
  // The master's HTTP base URL (http://host:port), for the artifact steps.
  void set_master_url(std::string url) { master_url_ = std::move(url); }
  // The worker's in-process consumers (C++ SDK) for consume steps; must outlive the runner.
  void set_in_process_consumers(InProcessConsumers* c) { in_process_ = c; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  JobSpec job_;
  std::string builddir_;
  std::string master_url_;
  InProcessConsumers* in_process_ = nullptr;
};

}  // namespace grove
