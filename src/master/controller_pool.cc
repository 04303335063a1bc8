// On-demand workers (issue 13): the controller's side of the pools (src/pool). Every decision
// is taken on the core loop from a snapshot; the start and stop commands run on the pool
// runner's threads and come back here with their outcome.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/amqp_topology.h"
#include "core/clock.h"
#include "core/log.h"
#include "master/controller.h"
#include "metrics/master_metrics.h"

namespace grove {

namespace asio = boost::asio;

namespace {

// How often the pools look at the queue and their instances when nothing else asks them to.
constexpr auto kPoolTickInterval = std::chrono::seconds(1);
// Lines of a command's output copied to the master log.
constexpr int kLoggedOutputLines = 20;

void LogOutcome(const std::string& instance, const pool::Action& a, const pool::CommandOutcome& out,
                const std::string& masked_output) {
  const char* kind = a.kind == pool::ActionKind::kStart ? "start" : "stop";
  if (out.status.ok())
    spdlog::info("on-demand {}: {} command done in {} ms", instance, kind, out.duration_ms);
  else
    spdlog::warn("on-demand {}: {} command failed: {}", instance, kind, out.status.message());
  int lines = 0;
  size_t pos = 0;
  while (pos < masked_output.size() && lines < kLoggedOutputLines) {
    size_t end = masked_output.find('\n', pos);
    if (end == std::string::npos) end = masked_output.size();
    if (end > pos) {
      spdlog::info("on-demand {} {}> {}", instance, kind, masked_output.substr(pos, end - pos));
      ++lines;
    }
    pos = end + 1;
  }
}

}  // namespace

void Controller::ReconfigurePools() {
  const int64_t now = NowMs();
  for (const WorkerConfig& wc : config_->workers) {
    if (!wc.on_demand.enabled) continue;
    auto it = pools_.find(wc.name);
    if (it == pools_.end())
      pools_.emplace(wc.name, std::make_unique<pool::Pool>(wc));
    else
      it->second->Reconfigure(wc, now);
  }
  for (auto& [name, p] : pools_) {
    const WorkerConfig* wc = config_->FindWorker(name);
    if ((!wc || !wc->on_demand.enabled) && !p->removed()) {
      spdlog::info("on-demand worker {} is no longer declared: its instances are stopped", name);
      p->Remove(now);
    }
  }
  if (!pools_.empty()) {
    SchedulePoolTimer();
    KickPools();
  }
}

void Controller::SetPoolsActive(bool active) {
  core_.Post([this, active](Txn& txn) {
    if (active == pools_active_) return;
    pools_active_ = active;
    for (const auto& [name, p] : pools_) metrics::SetOnDemandInstances(name, {});
    pools_.clear();
    pool_stored_.clear();
    if (active) RecoverPools(txn);
  });
}

void Controller::RecoverPools(Txn& txn) {
  ReconfigurePools();
  std::vector<PoolInstanceRecord> records;
  if (Status st = txn.store().ListPoolInstances(&records); !st.ok()) {
    spdlog::error("cannot read the on-demand instances from the store: {}", st.message());
    return;
  }
  const int64_t now = NowMs();
  for (const PoolInstanceRecord& r : records) {
    pool_stored_[r.name] = r.state;
    if (!pools_.count(r.pool)) {
      // Its declaration (and so its stop command) is gone: the operator's to clean up.
      spdlog::warn(
          "on-demand instance {} ({}) of worker {} was left running by a previous master, "
          "but {} is no longer an on-demand worker: stop it by hand",
          r.name, r.instance, r.pool, r.pool);
      (void)txn.store().DeletePoolInstance(r.name);
      pool_stored_.erase(r.name);
    }
  }
  for (auto& [name, p] : pools_) {
    std::vector<pool::Action> stops = p->Recover(records, now);
    for (const auto& i : p->state().instances)
      if (i.recovered)
        spdlog::info(
            "on-demand instance {} ({}) found from before the restart; waiting for it "
            "to connect again",
            i.name, i.id);
    RunPoolActions(txn, *p, stops);
  }
}

void Controller::KickPools() {
  if (pool_kick_pending_) return;
  pool_kick_pending_ = true;
  core_.Post([this](Txn& txn) {
    pool_kick_pending_ = false;
    PoolTick(txn);
  });
}

void Controller::SchedulePoolTimer() {
  if (pool_timer_started_) return;
  pool_timer_started_ = true;
  auto timer = std::make_shared<asio::steady_timer>(net_);
  auto arm = std::make_shared<std::function<void()>>();
  *arm = [this, timer, arm, alive = alive_] {
    timer->expires_after(kPoolTickInterval);
    timer->async_wait([this, timer, arm, alive](const boost::system::error_code& ec) {
      if (ec || !*alive) {
        *arm = nullptr;  // breaks the cycle
        return;
      }
      core_.Post([this](Txn& txn) { PoolTick(txn); });
      (*arm)();
    });
  };
  (*arm)();
}

std::map<std::string, int> Controller::PoolDemand() {
  std::map<std::string, int> demand;
  if (broker_ && broker_->RoutesJobs()) {
    ReadPoolDepths();  // for the next tick: what waits in RabbitMQ
    return pool_depths_;
  }
  // Per builder (the queue may be long): the pool that takes its waiting requests, if any.
  std::map<std::string, std::string> pool_of_builder;
  int limit = 0;  // no pool needs more than max * capacity counted
  for (const auto& [name, p] : pools_)
    limit = std::max(limit, p->config().on_demand.max * std::max(1, p->config().capacity));
  for (const auto& q : queue_) {
    auto it = pool_of_builder.find(q.builder);
    if (it == pool_of_builder.end()) {
      std::string chosen;
      const BuilderConfig* bc = config_->FindBuilder(q.builder);
      // A connected worker with room that fits it: it waits for a lock, not for a machine.
      if (bc && !workers_.PickFor(*bc)) {
        for (const WorkerConfig& wc : config_->workers) {
          if (!wc.on_demand.enabled) continue;
          ConnectedWorker probe;
          probe.name = wc.name;
          probe.pool = wc.name;
          probe.tags = {wc.tags.begin(), wc.tags.end()};
          if (WorkerFits(probe, *bc)) {
            chosen = wc.name;
            break;
          }
        }
      }
      it = pool_of_builder.emplace(q.builder, chosen).first;
    }
    if (it->second.empty()) continue;
    int& n = demand[it->second];
    if (n < limit) ++n;
  }
  return demand;
}

void Controller::ReadPoolDepths() {
  if (pool_depth_read_pending_) return;
  // Each builder's queue counts for the first pool whose worker fits the builder.
  std::map<std::string, std::string> pool_of_queue;
  for (const BuilderConfig& bc : config_->builders) {
    for (const WorkerConfig& wc : config_->workers) {
      if (!wc.on_demand.enabled || !pools_.count(wc.name)) continue;
      ConnectedWorker probe;
      probe.name = probe.pool = wc.name;
      probe.tags = {wc.tags.begin(), wc.tags.end()};
      if (!WorkerFits(probe, bc)) continue;
      pool_of_queue.emplace(amqp::JobQueueFor(bc.tags), wc.name);
      break;
    }
  }
  if (pool_of_queue.empty()) {
    pool_depths_.clear();
    return;
  }
  std::vector<std::string> queues;
  for (const auto& [q, p] : pool_of_queue) queues.push_back(q);
  pool_depth_read_pending_ = true;
  broker_->QueueDepths(queues, [this, pool_of_queue, alive = alive_](
                                   Status st, std::map<std::string, int64_t> depths) {
    if (!*alive) return;
    core_.Post([this, st, pool_of_queue, depths = std::move(depths)](Txn&) {
      pool_depth_read_pending_ = false;
      if (!st.ok()) {
        spdlog::warn("on-demand: cannot read the RabbitMQ queue depths: {}", st.message());
        return;  // the last known depths stay
      }
      pool_depths_.clear();
      for (const auto& [q, n] : depths)
        pool_depths_[pool_of_queue.at(q)] += static_cast<int>(std::min<int64_t>(n, 1 << 20));
    });
  });
}

void Controller::PoolTick(Txn& txn) {
  if (pools_.empty()) return;
  const int64_t now = NowMs();
  std::map<std::string, int> demand = PoolDemand();
  for (auto it = pools_.begin(); it != pools_.end();) {
    pool::Pool& p = *it->second;
    pool::Snapshot snap;
    snap.now = now;
    snap.waiting = demand[it->first];
    snap.reconnect_grace_ms = opts_.worker_grace.count();
    for (const auto& [name, w] : workers_.all()) {
      if (w.pool != it->first) continue;
      // A stopped instance whose worker still lingers is not the new instance of that name.
      const pool::Instance* i = pool::FindInstance(p.state(), name);
      if (w.draining && (!i || !pool::TakesNoJob(i->state))) continue;
      snap.connected[name] = {static_cast<int>(w.running.size()), w.last_job_at};
    }
    std::vector<pool::Action> actions = p.Tick(snap);
    SyncPoolInstances(txn, p);
    RunPoolActions(txn, p, actions);
    // GET /metrics: the instances by state (none left once a removed pool is gone).
    std::map<std::string, int64_t> by_state;
    for (const pool::Instance& i : p.state().instances) ++by_state[pool::StateName(i.state)];
    metrics::SetOnDemandInstances(it->first, by_state);
    if (p.removed() && p.state().instances.empty())
      it = pools_.erase(it);
    else
      ++it;
  }
}

void Controller::SyncPoolInstances(Txn& txn, pool::Pool& p) {
  for (const pool::Instance& i : p.state().instances) {
    if (ConnectedWorker* w = workers_.Find(i.name)) {
      const bool draining = pool::TakesNoJob(i.state);
      if (draining && !w->draining)
        spdlog::info("on-demand instance {} is drained: it takes no new job", i.name);
      w->draining = draining;
    }
    PoolInstanceRecord rec;
    if (!p.Record(i.name, &rec)) continue;
    auto stored = pool_stored_.find(i.name);
    if (stored != pool_stored_.end() && stored->second == rec.state) continue;
    pool_stored_[i.name] = rec.state;
    if (Status st = txn.store().PutPoolInstance(rec); !st.ok())
      spdlog::error("cannot record on-demand instance {}: {}", i.name, st.message());
    Notify(txn, {{"type", "worker"}, {"name", p.config().name}, {"instance", i.name}});
  }
}

void Controller::RunPoolActions(Txn& txn, pool::Pool& p, const std::vector<pool::Action>& actions) {
  for (const pool::Action& a : actions) {
    const bool start = a.kind == pool::ActionKind::kStart;
    spdlog::info("on-demand {}: {} ({}; instance {})", a.name, start ? "starting" : "stopping",
                 a.why, a.id);
    BoundedCommand cmd;
    Status st = p.CommandFor(a, pool_env_, &cmd);
    if (!st.ok()) {
      // Reported like a command that failed: the pool backs off (start) or forgets (stop).
      OnPoolCommandDone(p.config().name, a, {st, "", 0});
      continue;
    }
    // The instance is in the store before its machine can exist: a master that dies now finds
    // it at its restart.
    txn.AfterCommit([this, a, cmd = std::move(cmd), pool = p.config().name](const Status& st) {
      if (!st.ok()) {
        core_.Post([this, a, pool, st](Txn&) {
          OnPoolCommandDone(pool, a, {Status::IoError("not run: " + st.message()), "", 0});
        });
        return;
      }
      pool_runner_->Run(cmd, [this, a, pool, alive = alive_](pool::CommandOutcome out) {
        if (!*alive) return;
        core_.Post([this, a, pool, out = std::move(out)](Txn&) mutable {
          OnPoolCommandDone(pool, a, std::move(out));
        });
      });
    });
  }
}

void Controller::OnPoolCommandDone(const std::string& pool_name, const pool::Action& a,
                                   pool::CommandOutcome out) {
  auto it = pools_.find(pool_name);
  if (it == pools_.end()) return;
  pool::Pool& p = *it->second;
  const int64_t now = NowMs();
  const bool start = a.kind == pool::ActionKind::kStart;
  // Posted on its own: the next tick (below) writes what changed.
  if (start) {
    std::vector<pool::Action> more = p.StartDone(a.name, out, now);
    LogOutcome(a.name, a, out, p.reports().back().output);
    if (!more.empty()) spdlog::warn("on-demand {}: {}", a.name, p.state().last_error);
    core_.Post([this, pool_name, more](Txn& txn) {
      auto it = pools_.find(pool_name);
      if (it == pools_.end()) return;
      SyncPoolInstances(txn, *it->second);
      RunPoolActions(txn, *it->second, more);
    });
  } else {
    p.StopDone(a.name, out, now);
    LogOutcome(a.name, a, out, p.reports().back().output);
    core_.Post([this, name = a.name](Txn& txn) {
      // Gone: its number is free again (a later instance of that name is a new row).
      if (pool_stored_.erase(name)) (void)txn.store().DeletePoolInstance(name);
      Notify(txn, {{"type", "worker"}, {"instance", name}});
      KickPools();
    });
  }
}

Status Controller::AdmitPoolInstance(const WorkerConfig& wc, const std::string& name) const {
  if (wc.name == name) {
    if (wc.on_demand.enabled)
      return Status::Unauthorized("worker " + name + " is on-demand: its instances connect as " +
                                  name + "-N");
    return Status::Ok();
  }
  auto it = pools_.find(wc.name);
  if (it == pools_.end())
    return Status::Unauthorized("on-demand instance " + name + " was not started by the master");
  return it->second->Admit(name);
}

}  // namespace grove
