// Distributed mode (broker "amqp://…"): RabbitMQ, not the dispatcher, chooses the worker.
// A queued request is claimed with no worker, its build allocated (so buildnumber is known),
// and the job is published to the queue of the builder's tag set once the claim is durable.
// The first event of a worker for that job makes it the job's owner (AdoptJob); a later
// delivery of the same message to another worker (RabbitMQ redelivers a dead worker's
// unacknowledged job) is then an event for a job it does not own: it is answered with cancel,
// and the lost-worker path (grace, build finished as "retry", attempt + 1) runs as with the
// embedded broker. So one attempt never has two builds.
//
// Several masters (docs/operations.md): the holder of the "amqp-events" lease is the only one
// consuming the events queue, so a worker's events are applied by one master at a time, in
// order. What it applied is recorded per worker process in the same transaction
// (worker_events), so the next holder skips the events a dead master applied but could not
// acknowledge; it reads the queue and the running jobs from the store when it takes over, and
// a job claimed through another master since from the store when its first event comes.
#include <algorithm>
#include <unordered_map>

#include "core/clock.h"
#include "core/job_text.h"
#include "core/log.h"
#include "master/controller.h"
#include "master/metrics_hooks.h"
#include "master/submission.h"

namespace grove {

void Controller::DispatchToQueues(Txn& txn) {
  // Requests of builders without locks, claimed together below.
  std::vector<ToClaim> batch;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const BuilderConfig* bc = config_->FindBuilder(it->builder);
    if (!bc || !LocksFree(*bc, "")) {
      // Kept queued: the builder may come back with the next reconfig, the lock be released.
      ++it;
      continue;
    }
    if (bc->locks.empty()) {
      batch.push_back({it->id, bc, it->fresh});
      it = queue_.Erase(it);
      continue;
    }
    // A lock taken by this claim may hold the next request back: one at a time.
    JobSpec job;
    if (ClaimJob(txn, it->id, *bc, "", &job, it->fresh.get())) PublishClaimed(txn, *bc, job);
    it = queue_.Erase(it);
  }
  if (batch.size() == 1) {
    JobSpec job;  // one request: the claim that returns its row
    if (ClaimJob(txn, batch[0].id, *batch[0].bc, "", &job)) PublishClaimed(txn, *batch[0].bc, job);
    return;
  }
  if (!batch.empty()) ClaimBatchToQueues(txn, batch);
}

void Controller::PublishClaimed(Txn& txn, const BuilderConfig& bc, const JobSpec& job) {
  txn.AfterCommit(
      [this, tags = &bc.tags, config = config_, text = JobText(job, StepsTextOf(bc)),
       consumer = bc.name.rfind(kConsumerBuilderPrefix, 0) == 0](const Status& st) mutable {
        // A claim that did not reach the disk is not published; it is found queued again. (|config|
        // keeps |tags| alive across a reconfig.)
        if (st.ok()) broker_->PublishJobText(*tags, std::move(text), consumer);
      });
  if (!events_active_) {
    // A standby does not follow the job: the master applying events loads it from the store.
    if (auto a = active_.find({job.request_id, job.attempt}); a != active_.end()) {
      ReleaseLocks(a->second);
      active_.erase(a);
    }
  }
}

void Controller::ClaimBatchToQueues(Txn& txn, const std::vector<ToClaim>& batch) {
  const int64_t now = NowMs();
  // The rows this master inserted (kept by their queue entries) are claimed without reading
  // them back; the others (requeued, recovered) come back with their claim.
  std::vector<int64_t> fresh_ids, other_ids, claimed_fresh;
  for (const ToClaim& c : batch) (c.fresh ? fresh_ids : other_ids).push_back(c.id);
  std::vector<RequestRecord> read;
  Status st;
  if (!fresh_ids.empty()) st = txn.store().ClaimFreshRequests(fresh_ids, "", now, &claimed_fresh);
  if (st.ok() && !other_ids.empty())
    st = txn.store().ClaimRequestRecords(other_ids, "", now, &read);
  if (!st.ok()) {
    // The requests left the queue in memory: the rollback reads them back from the store.
    spdlog::error("cannot claim {} requests: {}", batch.size(), st.message());
    return txn.Fail(st);
  }
  // In queue order (priority, then age): numbered and published in that order. An id not
  // claimed was taken by another master.
  std::unordered_map<int64_t, size_t> order;
  for (size_t i = 0; i < batch.size(); ++i) order.emplace(batch[i].id, i);
  struct Claimed {
    size_t at;                 // in |batch|
    const RequestRecord* row;  // as claimed, but for state, attempt, worker and claimed_at
    int attempt;
  };
  std::vector<Claimed> claimed;
  claimed.reserve(claimed_fresh.size() + read.size());
  for (int64_t id : claimed_fresh) {
    const size_t at = order[id];
    claimed.push_back({at, batch[at].fresh.get(), 1});
  }
  for (const RequestRecord& r : read) claimed.push_back({order[r.id], &r, r.attempt});
  std::sort(claimed.begin(), claimed.end(),
            [](const Claimed& a, const Claimed& b) { return a.at < b.at; });
  std::vector<ClaimedRow> rows;
  rows.reserve(claimed.size());
  for (const Claimed& c : claimed) rows.push_back({c.row, c.attempt, batch[c.at].bc});
  StartClaimedToQueues(txn, now, rows);
}

void Controller::StartClaimedToQueues(Txn& txn, int64_t now,
                                      const std::vector<ClaimedRow>& claimed) {
  std::vector<BuildRecord> builds(claimed.size());
  for (size_t i = 0; i < claimed.size(); ++i) {
    const RequestRecord& row = *claimed[i].row;
    BuildRecord& b = builds[i];
    b.request_id = row.id;
    b.attempt = claimed[i].attempt;
    b.builder = row.builder;
    b.state = "running";
    b.started_at = now;
    b.properties = StartingProperties(row.builder, row, "");
  }
  if (Status st = txn.store().StartBuilds(&builds); !st.ok()) {
    spdlog::error("cannot record the builds of {} requests: {}", claimed.size(), st.message());
    if (!txn.status().ok()) return;  // rolled back: the queue is read again
  }
  for (size_t i = 0; i < claimed.size(); ++i) {
    const RequestRecord& req = *claimed[i].row;
    const BuilderConfig& bc = *claimed[i].bc;
    const JobKey key{req.id, claimed[i].attempt};
    ActiveJob& active = active_[key];
    active = ActiveJob{"", req.builder, 0, {}, {}};
    if (BuildRecord& b = builds[i]; b.id) {
      // What EnsureBuild does for one build (it is then not started again by MakeJob).
      active.build_id = b.id;
      active.build_number = b.number;
      active.properties = std::move(b.properties);
      active.started_at = b.started_at;
      AnnounceBuildStarted(txn, b, key.request);
    }
    if (req.submitted_at)
      RecordOnCommit(txn, [s = (now - req.submitted_at) / 1000.0] { metrics::QueueWait(s); });
    if (Live(txn))
      Notify(txn,
             {{"type", "request"}, {"id", req.id}, {"builder", req.builder}, {"state", "claimed"}});
    JobSpec job;
    MakeJob(txn, key, active, bc, &job, &req, /*with_steps=*/false);
    PublishClaimed(txn, bc, job);
  }
}

bool Controller::StepsUseTokens(const BuilderConfig& bc) {
  if (bc.name.rfind(kConsumerBuilderPrefix, 0) != 0) return true;
  return !std::all_of(bc.steps.begin(), bc.steps.end(),
                      [](const StepSpec& s) { return s.type == "consume"; });
}

bool Controller::ClaimsAtInsert(const std::vector<RequestRecord>& rs) const {
  // Anything queued may have to come first (a higher priority, a lock it holds); a pool may
  // start an instance; a collapsing builder's later request supersedes the earlier ones.
  if (!broker_ || !broker_->RoutesJobs() || !pools_.empty() || !queue_.empty()) return false;
  for (const RequestRecord& r : rs) {
    const BuilderConfig* bc = config_->FindBuilder(r.builder);
    if (!bc || !bc->locks.empty() || bc->collapse || r.attempt != 0) return false;
  }
  return true;
}

Status Controller::EnqueueClaimed(Txn& txn, std::vector<RequestRecord>* rs,
                                  std::vector<int64_t>* ids) {
  const int64_t now = NowMs();
  for (RequestRecord& r : *rs)
    if (r.submitted_at == 0) r.submitted_at = now;
  if (Status st = txn.store().AddClaimedRequests(now, "", rs); !st.ok()) {
    txn.Fail(st);  // as EnqueueBatch: half a batch must not stay
    return st;
  }
  ids->clear();
  ids->reserve(rs->size());
  std::vector<ClaimedRow> claimed;
  claimed.reserve(rs->size());
  const bool live = Live(txn);
  for (const RequestRecord& r : *rs) {
    ids->push_back(r.id);
    // As if queued and claimed at once: the same live events, in the same order.
    if (live)
      Notify(txn, {{"type", "request"}, {"id", r.id}, {"builder", r.builder}, {"state", "queued"}});
    claimed.push_back({&r, r.attempt, config_->FindBuilder(r.builder)});
  }
  // In the queue's order (priority, then age), as Dispatch would have claimed them.
  std::stable_sort(claimed.begin(), claimed.end(), [](const ClaimedRow& a, const ClaimedRow& b) {
    return a.row->priority > b.row->priority;
  });
  StartClaimedToQueues(txn, now, claimed);
  return Status::Ok();
}

const std::string& Controller::StepsTextOf(const BuilderConfig& bc) {
  auto it = steps_text_.find(bc.name);
  if (it == steps_text_.end()) it = steps_text_.emplace(bc.name, StepsText(bc.steps)).first;
  return it->second;
}

bool Controller::AdoptJob(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                          const Json& properties, bool defer) {
  job.worker = w.name;
  w.running.insert(key);
  if (job.build_id) {
    Json props = properties;
    props["workername"] = w.name;
    const bool merged = MergeProperties(txn, job, props);
    if (merged && defer) {
      // Written with the batch's next write of the build (its end, when it comes with it).
      job.build_dirty = true;
      Defer(key, job);
      spdlog::debug("request {} attempt {} taken by worker {}", key.request, key.attempt, w.name);
      return true;
    }
    // One write: the worker and the properties with it.
    Status st = merged ? txn.store().AdoptBuild(job.build_id, w.name, job.properties)
                       : txn.store().SetBuildWorker(job.build_id, w.name);
    if (!st.ok()) spdlog::warn("build {}: cannot store its worker: {}", job.build_id, st.message());
  }
  // Debug: at thousands of consumer jobs a second, a line per job would be most of the log.
  spdlog::debug("request {} attempt {} taken by worker {}", key.request, key.attempt, w.name);
  return job.build_id != 0;
}

void Controller::SetEventsActive(bool active) {
  core_.Post([this, active](Txn& txn) {
    if (active == events_active_) return;
    events_active_ = active;
    ForgetJobs();
    if (!active) {
      spdlog::info("another master applies the workers' events now; this one is a standby");
      return;
    }
    // What the masters did meanwhile is in the store: the queue, the running jobs and who
    // runs them. A job's worker has until its next hello (every 3 s, queued in RabbitMQ
    // meanwhile) to say it still runs it; the grace is generous since a backlog comes first.
    if (Status st = ReloadAfterRollback(txn.store(), /*takeover=*/true); !st.ok()) {
      txn.Fail(st);  // read again when the batch is retried (the rollback handler)
      return;
    }
    const int64_t deadline = NowMs() + std::max<int64_t>(opts_.worker_grace.count(), 15000);
    for (auto& [key, orphan] : orphans_) orphan.deadline = std::max(orphan.deadline, deadline);
    // A job the previous master claimed but may not have published (it died in between) is
    // published again, as at a restart (Recover): a second copy is cancelled at its first event.
    for (auto& [key, job] : active_) {
      const BuilderConfig* bc = config_->FindBuilder(job.builder);
      if (!job.worker.empty() || !bc) continue;
      JobSpec spec;
      MakeJob(txn, key, job, *bc, &spec);
      txn.AfterCommit([this, tags = bc->tags, msg = JobMessage(spec)](const Status& st) {
        if (st.ok()) broker_->PublishJob(tags, msg);
      });
    }
    spdlog::info("this master applies the workers' events now: {} queued, {} in progress",
                 queue_.size(), active_.size());
  });
}

void Controller::ForgetJobs() {
  active_.clear();
  orphans_.clear();
  lock_counts_.clear();
  std::vector<std::string> names;
  for (const auto& [name, w] : workers_.all()) names.push_back(name);
  for (const auto& name : names) workers_.Remove(name);
}

std::map<JobKey, Controller::ActiveJob>::iterator Controller::LoadClaimedJob(Txn& txn,
                                                                             const JobKey& key) {
  if (!events_active_) return active_.end();
  // A job that ended in this batch is not loaded again: its end is written first.
  FlushEnds(txn);
  RequestRecord r;
  if (!txn.store().GetRequest(key.request, &r).ok() || r.state != "claimed" ||
      r.attempt != key.attempt)
    return active_.end();
  ActiveJob job{r.worker, r.builder, 0, {}, {}, {}};
  BuildRecord b;
  if (txn.store().FindBuild(key.request, key.attempt, &b).ok()) {
    job.build_id = b.id;
    if (job.worker.empty()) job.worker = b.worker;
  }
  if (const BuilderConfig* bc = config_->FindBuilder(r.builder)) {
    for (auto& [name, value] : JobSecrets(*bc)) job.secrets.push_back(value);
    TakeLocks(*bc, r.worker, job);
  }
  auto it = active_.emplace(key, std::move(job)).first;
  if (const std::string& worker = it->second.worker; !worker.empty()) {
    if (ConnectedWorker* w = workers_.Find(worker)) {
      w->running.insert(key);
    } else {
      orphans_[key] = {worker, NowMs() + opts_.worker_grace.count()};
      ScheduleReap(opts_.worker_grace);
    }
  }
  return it;
}

int64_t Controller::FirstUnapplied(Txn& txn, ConnectedWorker& w, int64_t id) {
  w.recorded_upto = -1;
  if (!Distributed() || w.instance.empty()) return id - 1;
  int64_t upto = 0;
  Status st = txn.store().GetAppliedEvents(w.name, w.instance, &upto);
  if (st.IsNotFound()) return id - 1;  // a process no master applied anything of
  if (!st.ok()) {
    // Guessing could apply events twice: the batch is tried again.
    txn.Fail(st);
    return id - 1;
  }
  w.recorded_upto = upto;
  if (upto < id - 1)
    spdlog::info("worker {}: events {} to {} are not applied yet; waiting for them", w.name,
                 upto + 1, id - 1);
  return upto;
}

void Controller::RecordAppliedEvents(Txn& txn, ConnectedWorker& w) {
  if (!Distributed() || w.instance.empty() || w.applied_upto <= w.recorded_upto) return;
  Status st = txn.store().AdvanceAppliedEvents(w.name, w.instance, w.applied_upto);
  if (st.ok()) {
    w.recorded_upto = w.applied_upto;
    return;
  }
  if (st.IsConflict())
    spdlog::warn("worker {}: events up to {} were applied by another master; not again", w.name,
                 w.applied_upto);
  txn.Fail(st);
}

// What an application published to grove.submit: the same JSON as the HTTP API's, checked the
// same way, acknowledged in RabbitMQ once the request is durable. An array is a batch: all its
// requests in one transaction, the message acknowledged once they all are durable; one bad
// element refuses the whole message (dead-lettered, its index in the log).
void Controller::OnSubmission(Json msg, std::function<void(Status)> done) {
  if (msg.is_array()) {
    return core_.Post([this, msg = std::move(msg), done = std::move(done)](Txn& txn) {
      std::vector<ForceArgs> batch;
      // The sizes were checked by the broker, which has the message's bytes.
      Status st = ParseSubmissionBatch(msg, 0, *config_, "submission", &batch);
      for (ForceArgs& args : batch)
        if (args.reason.empty()) args.reason = "submitted through RabbitMQ";
      std::vector<int64_t> ids;
      if (st.ok()) st = EnqueueBatch(txn, batch, "submission", &ids);
      if (!st.ok()) return done(st);
      txn.AfterCommit([done](const Status& st) { done(st); });
    });
  }
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
