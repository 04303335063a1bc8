// Several masters on one store with the embedded broker (issue 10). Each master dispatches to
// the workers connected to it; a request made through any master is in the store, so:
//  - a master with a free worker polls the store's queue (every kPollMs, only while another
//    master is alive: a lone master never polls) and claims what its workers fit; the claim is
//    one conditional UPDATE, so two masters never both claim a request;
//  - a claimed request records its owner (requests.master). Only the owner reaps it when its
//    worker is lost, and every move of ownership is a conditional UPDATE too: a worker that
//    reconnects elsewhere with a running job is adopted by the master it reached (its hello
//    lists the job), a master seen gone for the lease expiry has its running jobs taken over
//    by one survivor, which gives their workers the grace to come back before it retries them.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "master/controller.h"

namespace grove {

namespace {

// How often a master with a free worker looks for requests made through the others.
constexpr int64_t kPollMs = 400;
// Without a free worker the local queue is still brought up to date now and then (what the
// others claimed leaves it), for `grove status` and the queue page.
constexpr int64_t kResyncMs = 5000;
// A master whose heartbeat is older than this is gone (Cluster::kExpiryMs: its leases expire
// then too).
constexpr int64_t kGoneMs = 7000;
// How many queued requests a poll reads: the dispatcher offers them in order, so the head of
// the queue is what matters.
constexpr int kPollLimit = 1000;

}  // namespace

void Controller::SetPeers(std::set<std::string> live, bool others_recent) {
  // A lone master (no other seen since it started, nor recently before) costs nothing here:
  // not even an empty batch on the core loop every round.
  if (live.size() > 1 || others_recent) peers_seen_ = true;
  if (!peers_seen_) return;
  core_.Post([this, live = std::move(live), others_recent](Txn& txn) mutable {
    live_masters_ = std::move(live);
    const bool several = live_masters_.size() > 1;
    if (several && !several_) spdlog::info("several masters alive: polling the shared queue");
    several_ = several;
    if (Distributed()) return;  // distributed mode: RabbitMQ dispatches
    if (others_recent) TakeOverDeadMasters(txn);
    if (several_ && !polling_) {
      polling_ = true;
      SchedulePoll();
    }
  });
}

void Controller::SchedulePoll() {
  auto timer =
      std::make_shared<boost::asio::steady_timer>(net_, std::chrono::milliseconds(kPollMs));
  timer->async_wait([this, timer, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    core_.Post([this](Txn& txn) {
      if (!several_) {
        polling_ = false;
        return;
      }
      if (workers_.AnyFree() || NowMs() - last_poll_ >= kResyncMs) PollQueue(txn);
      SchedulePoll();
    });
  });
}

void Controller::PollQueue(Txn& txn) {
  last_poll_ = NowMs();
  std::vector<RequestRecord> queued;
  if (Status st = txn.store().QueuedHeads(kPollLimit, &queued); !st.ok()) {
    spdlog::warn("cannot read the shared queue: {}", st.message());
    return;
  }
  JobQueue fresh;
  for (const auto& r : queued) fresh.Add({r.id, r.priority, r.builder});
  queue_ = std::move(fresh);
  Dispatch(txn);
}

Status Controller::ForeignClaims(Store& store, bool take_dead, std::set<int64_t>* out) {
  out->clear();
  // Distributed mode: the master holding the `amqp-events` lease follows every job, whoever
  // claimed it (controller_amqp.cc); the others follow none.
  if (master_.empty() || Distributed()) return Status::Ok();
  std::vector<ClaimedRequest> foreign;
  GROVE_RETURN_IF_ERROR(store.ClaimedByOthers(master_, &foreign));
  if (foreign.empty()) return Status::Ok();
  std::vector<std::string> live_list;
  if (take_dead) GROVE_RETURN_IF_ERROR(store.LiveMasters(NowMs() - kGoneMs, &live_list));
  std::set<std::string> live(live_list.begin(), live_list.end());
  for (const auto& c : foreign) {
    if (take_dead && !live.count(c.master)) {
      bool moved = false;
      GROVE_RETURN_IF_ERROR(store.MoveRequest(c.id, c.attempt, "", c.master, master_, &moved));
      if (moved) {
        spdlog::info("request {} attempt {} of master '{}' (gone) taken over", c.id, c.attempt,
                     c.master);
        continue;
      }
    }
    out->insert(c.id);
  }
  return Status::Ok();
}

Controller::ActiveJob& Controller::LoadClaimed(Txn& txn, const RequestRecord& r) {
  JobKey key{r.id, r.attempt};
  ActiveJob job{r.worker, r.builder, 0, {}, {}, {}};
  BuildRecord b;
  if (txn.store().FindBuild(r.id, r.attempt, &b).ok()) job.build_id = b.id;
  ActiveJob& active = active_[key] = std::move(job);
  if (const BuilderConfig* bc = config_->FindBuilder(r.builder)) {
    TakeLocks(*bc, r.worker, active);
    JobSpec spec;  // made again for its secrets, masked in what the worker reports
    MakeJob(txn, key, active, *bc, &spec);
  }
  return active;
}

void Controller::AdoptFromStore(Txn& txn, const std::string& worker, const JobKey& key) {
  if (Distributed()) return;
  RequestRecord r;
  if (!txn.store().GetRequest(key.request, &r).ok()) return;
  if (r.state != "claimed" || r.attempt != key.attempt || r.worker != worker) return;
  bool moved = false;
  if (!master_.empty() &&
      (!txn.store().MoveRequest(key.request, key.attempt, worker, "", master_, &moved).ok() ||
       !moved))
    return;
  LoadClaimed(txn, r);
  spdlog::info("worker {} brought request {} attempt {} from another master; adopted", worker,
               key.request, key.attempt);
}

void Controller::ResetWorkers(Txn& txn) {
  for (const auto& wc : config_->workers) {
    WorkerRecord rec;
    rec.name = wc.name;
    rec.tags = wc.tags;
    rec.capacity = wc.capacity;
    (void)txn.store().ResetWorker(rec, master_, NowMs() - kGoneMs);
  }
}

std::map<std::string, Json> Controller::ForeignWorkers(Txn& txn,
                                                       const std::vector<WorkerRecord>& known) {
  std::map<std::string, Json> out;
  std::vector<const WorkerRecord*> held;
  for (const auto& k : known)
    if (k.connected && !k.master.empty() && k.master != master_ && !workers_.Find(k.name))
      held.push_back(&k);
  if (held.empty()) return out;  // a lone master reads nothing more
  // The store's `connected` outlives a master killed: only a live master's workers count.
  std::vector<std::string> live_list;
  std::vector<ClaimedRequest> claimed;
  if (!txn.store().LiveMasters(NowMs() - kGoneMs, &live_list).ok()) return out;
  if (!txn.store().ClaimedByOthers(master_, &claimed).ok()) claimed.clear();
  const std::set<std::string> live(live_list.begin(), live_list.end());
  for (const WorkerRecord* k : held) {
    if (!live.count(k->master)) continue;
    Json running = Json::array();
    for (const auto& c : claimed)
      if (c.worker == k->name) running.push_back({{"request", c.id}, {"attempt", c.attempt}});
    out[k->name] = {{"master", k->master}, {"running", std::move(running)}};
  }
  return out;
}

void Controller::TakeOverDeadMasters(Txn& txn) {
  std::vector<ClaimedRequest> foreign;
  if (master_.empty() || !txn.store().ClaimedByOthers(master_, &foreign).ok()) return;
  const int64_t deadline = NowMs() + opts_.worker_grace.count();
  bool any = false;
  for (const auto& c : foreign) {
    if (live_masters_.count(c.master)) continue;
    bool moved = false;
    if (!txn.store().MoveRequest(c.id, c.attempt, "", c.master, master_, &moved).ok() || !moved)
      continue;
    RequestRecord r;
    if (!txn.store().GetRequest(c.id, &r).ok()) continue;
    JobKey key{c.id, c.attempt};
    LoadClaimed(txn, r);
    spdlog::warn(
        "master '{}' is gone: request {} attempt {} taken over; its worker {} has {} ms to "
        "come back with it",
        c.master.empty() ? "(unnamed)" : c.master, c.id, c.attempt, r.worker,
        opts_.worker_grace.count());
    ConnectedWorker* w = workers_.Find(r.worker);
    if (w) {
      // Connected here but not running it (it would have said so in its hello): lost.
      LoseJob(txn, key, "worker " + r.worker + " no longer runs it");
      continue;
    }
    orphans_[key] = {r.worker, deadline};
    any = true;
  }
  if (any) ScheduleReap(opts_.worker_grace);
}

bool Controller::StillOwned(Txn& txn, const JobKey& key) {
  if (master_.empty() || Distributed()) return true;  // distributed: the events holder decides
  bool mine = false;
  // A no-op update that locks the row: until this transaction ends, no other master can adopt
  // it, so what follows (retry, requeue) is decided by one master.
  Status st = txn.store().MoveRequest(key.request, key.attempt, "", master_, master_, &mine);
  return !st.ok() || mine;  // a failed store dooms the batch anyway
}

}  // namespace grove
