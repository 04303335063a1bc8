// Queue control for the web UI and the API (developer role): cancel a queued request, stop a
// running build, rebuild, pause and resume a worker. Runs on the core loop like the rest of the
// Controller.
#include "core/clock.h"
#include "core/log.h"
#include "master/controller.h"

namespace grove {

void Controller::CancelRequest(int64_t request_id, std::function<void(Status)> done) {
  core_.Post([this, request_id, done = std::move(done)](Txn& txn) {
    RequestRecord r;
    Status st = txn.store().GetRequest(request_id, &r);
    if (!st.ok()) return done(st);
    // Distributed mode: a request is claimed as soon as it is published; while no worker has
    // taken its job from RabbitMQ it is still waiting, so it can be cancelled (the worker that
    // gets the job later is answered with cancel at its first event).
    JobKey key{r.id, r.attempt};
    auto job = active_.find(key);
    if (job == active_.end() && r.state == "claimed" && Distributed())
      job = LoadClaimedJob(txn, key);  // published through another master
    if (r.state == "claimed" && broker_ && broker_->RoutesJobs() && job != active_.end() &&
        job->second.worker.empty()) {
      spdlog::info("request {} ({}) cancelled while waiting in RabbitMQ", request_id, r.builder);
      FinishJob(txn, key, Result::kCancelled);
      txn.AfterCommit([done](const Status& st) { done(st); });
      return;
    }
    if (r.state != "queued")
      return done(Status::Conflict("request " + std::to_string(request_id) + " is " + r.state +
                                   ", not queued" +
                                   (r.state == "claimed" ? " (stop its build instead)" : "")));
    queue_.Remove(r.id, r.priority);
    st = txn.store().FinishRequest(request_id, Result::kCancelled, NowMs());
    if (!st.ok()) return done(st);
    spdlog::info("request {} ({}) cancelled", request_id, r.builder);
    Notify(txn, {{"type", "request"},
                 {"id", request_id},
                 {"builder", r.builder},
                 {"state", "finished"},
                 {"result", "cancelled"}});
    txn.AfterCommit([done](const Status& st) { done(st); });
  });
}

void Controller::StopBuild(int64_t build_id, StopDone done) {
  core_.Post([this, build_id, done = std::move(done)](Txn& txn) {
    StopBuildIn(txn, build_id, /*may_relay=*/true, done);
  });
}

void Controller::StopRelayedBuild(int64_t build_id, const std::string& from) {
  core_.Post([this, build_id, from](Txn& txn) {
    StopBuildIn(txn, build_id, /*may_relay=*/false,
                [build_id, from](Status st, const std::string&) {
                  if (st.ok())
                    spdlog::info("build {}: stopped as master '{}' asked", build_id, from);
                  else
                    spdlog::warn("build {}: master '{}' asked to stop it: {}", build_id, from,
                                 st.message());
                });
  });
}

void Controller::StopBuildIn(Txn& txn, int64_t build_id, bool may_relay, const StopDone& done) {
  auto stop = [&](const JobKey& key, ActiveJob& job) {
    ConnectedWorker* w = workers_.Find(job.worker);
    if (w && w->running.count(key)) {
      // The worker kills the step's process tree and reports job.finished "cancelled".
      spdlog::info("build {} ({}): stop requested, asking worker {}", build_id, job.builder,
                   job.worker);
      SendCancel(w->conn, key);
    } else {
      // Its worker is away: nothing runs that could be told, so the build ends here.
      FinishJob(txn, key, Result::kCancelled);
    }
    txn.AfterCommit([done](const Status& st) { done(st, ""); });
  };
  for (auto& [key, job] : active_) {
    if (job.build_id == build_id) return stop(key, job);
  }
  BuildRecord b;
  Status st = txn.store().GetBuild(build_id, &b);
  if (!st.ok()) return done(st, "");
  if (b.state == "running") {
    // Distributed mode: the master that follows the jobs has not seen an event of this one yet
    // (claimed through another master).
    if (Distributed()) {
      JobKey key{b.request_id, b.attempt};
      if (auto job = LoadClaimedJob(txn, key); job != active_.end()) return stop(key, job->second);
    }
    if (may_relay && stop_relay_) {
      if (std::string through = StopThrough(txn, b); !through.empty()) {
        spdlog::info("build {} ({}): stop requested, runs through master '{}': relayed", build_id,
                     b.builder, through);
        stop_relay_(build_id, through);
        return done(Status::Ok(), through);
      }
    }
  }
  done(Status::Conflict("build " + std::to_string(build_id) + " is not running"), "");
}

std::string Controller::StopThrough(Txn& txn, const BuildRecord& b) {
  if (master_.empty()) return "";
  if (Distributed()) {
    // The holder of `amqp-events` follows every job, whoever claimed it.
    if (events_active_ || !events_holder_) return "";
    std::string holder = events_holder_();
    return holder == master_ ? "" : holder;
  }
  std::vector<ClaimedRequest> foreign;
  if (!txn.store().ClaimedByOthers(master_, &foreign).ok()) return "";
  for (const auto& c : foreign) {
    // A dead master's builds are taken over (then stopped here), not relayed into the void.
    if (c.id == b.request_id && c.attempt == b.attempt && live_masters_.count(c.master))
      return c.master;
  }
  return "";
}

void Controller::Rebuild(int64_t build_id, const std::string& reason,
                         std::function<void(Status, int64_t)> done) {
  core_.Post([this, build_id, reason, done = std::move(done)](Txn& txn) {
    BuildRecord b;
    Status st = txn.store().GetBuild(build_id, &b);
    if (!st.ok()) return done(st, 0);
    RequestRecord old;
    st = txn.store().GetRequest(b.request_id, &old);
    if (!st.ok()) return done(st, 0);
    const BuilderConfig* bc = config_->FindBuilder(old.builder);
    if (!bc) return done(Status::NotFound("no such builder: " + old.builder), 0);
    RequestRecord r;
    r.builder = old.builder;
    r.reason =
        reason.empty() ? "rebuild of " + old.builder + " #" + std::to_string(b.number) : reason;
    r.properties = old.properties;
    r.source = old.source;
    r.priority = bc->priority;
    st = txn.store().AddRequest(&r);
    if (!st.ok()) return done(st, 0);
    queue_.Add({r.id, r.priority, r.builder});
    Notify(txn, {{"type", "request"}, {"id", r.id}, {"builder", r.builder}, {"state", "queued"}});
    int64_t id = r.id;
    txn.AfterCommit([done, id](const Status& st) { done(st, st.ok() ? id : 0); });
    Dispatch(txn);
  });
}

void Controller::SetWorkerPaused(const std::string& worker, bool paused,
                                 std::function<void(Status)> done) {
  core_.Post([this, worker, paused, done = std::move(done)](Txn& txn) {
    ConnectedWorker* w = workers_.Find(worker);
    if (!w) {
      return done(config_->FindWorker(worker)
                      ? Status::Conflict("worker " + worker + " is not connected")
                      : Status::NotFound("no such worker: " + worker));
    }
    w->paused = paused;
    spdlog::info("worker {} {}", worker, paused ? "paused" : "resumed");
    // In distributed mode RabbitMQ hands out the jobs: the worker itself stops consuming.
    if (broker_->RoutesJobs()) broker_->Send(w->conn, {{"type", paused ? "pause" : "resume"}});
    Notify(txn, {{"type", "worker"}, {"name", worker}, {"connected", true}, {"paused", paused}});
    txn.AfterCommit([done](const Status& st) { done(st); });
    if (!paused) Dispatch(txn);
  });
}

}  // namespace grove
