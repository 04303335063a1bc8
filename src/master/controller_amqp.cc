// Distributed mode (broker "amqp://…"): RabbitMQ, not the dispatcher, chooses the worker.
// A queued request is claimed with no worker, its build allocated (so buildnumber is known),
// and the job is published to the queue of the builder's tag set once the claim is durable.
// The first event of a worker for that job makes it the job's owner (AdoptJob); a later
// delivery of the same message to another worker (RabbitMQ redelivers a dead worker's
// unacknowledged job) is then an event for a job it does not own: it is answered with cancel,
// and the lost-worker path (grace, build finished as "retry", attempt + 1) runs as with the
// embedded broker. So one attempt never has two builds.
#include "core/clock.h"
#include "core/log.h"
#include "master/controller.h"
#include "master/submission.h"

namespace grove {

void Controller::DispatchToQueues(Txn& txn) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    const BuilderConfig* bc = config_->FindBuilder(it->builder);
    if (!bc || !LocksFree(*bc, "")) {
      // Kept queued: the builder may come back with the next reconfig, the lock be released.
      ++it;
      continue;
    }
    JobSpec job;
    if (!ClaimJob(txn, it->id, *bc, "", &job)) {
      it = queue_.Erase(it);
      continue;
    }
    txn.AfterCommit([this, tags = bc->tags,
                     msg = Json{{"type", "job"}, {"job", ToJson(job)}}](const Status& st) {
      // A claim that did not reach the disk is not published; it is found queued again.
      if (st.ok()) broker_->PublishJob(tags, msg);
    });
    it = queue_.Erase(it);
  }
}

bool Controller::AdoptJob(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                          const Json& properties) {
  job.worker = w.name;
  w.running.insert(key);
  if (job.build_id) {
    Json props = properties;
    props["workername"] = w.name;
    // One write: the worker and the properties with it.
    Status st = MergeProperties(txn, job, props)
                    ? txn.store().AdoptBuild(job.build_id, w.name, job.properties)
                    : txn.store().SetBuildWorker(job.build_id, w.name);
    if (!st.ok()) spdlog::warn("build {}: cannot store its worker: {}", job.build_id, st.message());
  }
  // Debug: at thousands of consumer jobs a second, a line per job would be most of the log.
  spdlog::debug("request {} attempt {} taken by worker {}", key.request, key.attempt, w.name);
  return job.build_id != 0;
}

// What an application published to grove.submit: the same JSON as the HTTP API's, checked the
// same way, acknowledged in RabbitMQ once the request is durable.
void Controller::OnSubmission(Json msg, std::function<void(Status)> done) {
  core_.Post([this, msg = std::move(msg), done = std::move(done)](Txn& txn) {
    ForceArgs args;
    Status st = ParseSubmission(msg, *config_, &args);
    if (args.reason.empty()) args.reason = "submitted through RabbitMQ";
    int64_t id = 0;
    if (st.ok()) st = Enqueue(txn, args, &id);
    if (!st.ok()) return done(st);
    txn.AfterCommit([done](const Status& st) { done(st); });
  });
}

}  // namespace grove
