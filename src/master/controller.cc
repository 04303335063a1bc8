#include "master/controller.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <tuple>
#include <utility>

#include "core/clock.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/log_frame.h"
#include "master/event_hub.h"
#include "master/metrics_hooks.h"
#include "metrics/master_metrics.h"

namespace grove {

namespace asio = boost::asio;

namespace {

// How long events after a hole in a worker's ids wait for the hole to be filled by a resend.
constexpr int64_t kGiveUpOnMissingEventsMs = 30000;

// The memory the queue entries that keep their request's row (QueuedRequest::fresh) may hold
// together, and one such row at most (its JSON counted as JsonBytes does).
constexpr size_t kFreshBytes = 8 << 20;
constexpr size_t kFreshRowBytes = 16 << 10;

// About the memory |j| holds (keys and strings counted, 16 bytes per value), counted up to
// |cap| + 1 at most.
size_t JsonBytes(const Json& j, size_t cap) {
  size_t used = 0;
  auto count = [&](auto& self, const Json& v) -> void {
    used += 16 + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
    if (used > cap) return;
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end() && used <= cap; ++it) {
        used += it.key().size();
        self(self, it.value());
      }
    } else if (v.is_array()) {
      for (auto it = v.begin(); it != v.end() && used <= cap; ++it) self(self, *it);
    }
  };
  count(count, j);
  return std::min(used, cap + 1);
}

// A kept row, its size counted in |total| while it lives.
struct KeptRow {
  KeptRow(const RequestRecord& r, size_t size, std::shared_ptr<size_t> total)
      : row(r), bytes(size), budget(std::move(total)) {
    *budget += bytes;
  }
  ~KeptRow() { *budget -= bytes; }
  KeptRow(const KeptRow&) = delete;
  KeptRow& operator=(const KeptRow&) = delete;
  RequestRecord row;
  size_t bytes;
  std::shared_ptr<size_t> budget;
};

bool SecretsEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Json KeyJson(const JobKey& k) {
  return {{"request", k.request}, {"attempt", k.attempt}};
}

}  // namespace

Controller::Controller(CoreLoop& core, asio::io_context& net, std::shared_ptr<const Config> config,
                       ControllerOptions opts)
    : core_(core),
      net_(net),
      config_(std::move(config)),
      opts_(opts),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  core_.OnRollback([this](Store& store) { return ReloadAfterRollback(store); });
  pool_runner_ = std::make_unique<pool::CommandRunner>();
}

Controller::~Controller() {
  *alive_ = false;
  pool_runner_.reset();  // joins the command threads (their callbacks see alive_ false)
}

void Controller::Reconfigure(std::shared_ptr<const Config> config) {
  core_.Post([this, config = std::move(config)](Txn& txn) {
    config_ = config;
    steps_text_.clear();
    for (const auto& wc : config_->workers) {
      if (auto* w = workers_.Find(wc.name)) w->tags = {wc.tags.begin(), wc.tags.end()};
    }
    for (const auto& [name, cw] : workers_.all()) {
      const WorkerConfig* wc = cw.pool.empty() ? nullptr : config_->FindWorker(cw.pool);
      if (wc) workers_.Find(name)->tags = {wc->tags.begin(), wc->tags.end()};
    }
    if (pools_active_) ReconfigurePools();
    Dispatch(txn);
  });
}

void Controller::Recover() {
  core_.Post([this](Txn& txn) {
    txn.store().SetMasterName(master_);
    std::vector<RequestRecord> queued, claimed;
    // Several masters: what another live master runs stays its own; a gone master's is taken.
    std::set<int64_t> foreign;
    Status st = ForeignClaims(txn.store(), true, &foreign);
    if (st.ok()) st = txn.store().ListRequests("queued", 1 << 30, &queued);
    if (st.ok()) st = txn.store().ListRequests("claimed", 1 << 30, &claimed);
    if (!st.ok()) {
      spdlog::error("cannot load the queue from the store: {}", st.message());
      return;
    }
    for (const auto& r : queued) queue_.Add({r.id, r.priority, r.builder});
    int64_t deadline = NowMs() + opts_.worker_grace.count();
    for (const auto& r : claimed) {
      if (foreign.count(r.id)) continue;
      JobKey key{r.id, r.attempt};
      ActiveJob job{r.worker, r.builder, 0};
      BuildRecord b;
      if (txn.store().FindBuild(r.id, r.attempt, &b).ok()) {
        job.build_id = b.id;
        job.started_at = b.started_at;
        // Distributed mode: the request has no worker; the build names the one that took it.
        if (job.worker.empty()) job.worker = b.worker;
      }
      ActiveJob& active = active_[key] = job;
      const BuilderConfig* bc = config_->FindBuilder(r.builder);
      if (!bc) {
        if (!job.worker.empty()) orphans_[key] = {job.worker, deadline};
        continue;
      }
      TakeLocks(*bc, r.worker, active);
      // The job as it was sent: its secrets are masked again in what the worker reports.
      JobSpec spec;
      MakeJob(txn, key, active, *bc, &spec);
      if (!job.worker.empty()) {
        orphans_[key] = {job.worker, deadline};
      } else if (broker_ && broker_->RoutesJobs()) {
        // Distributed mode, taken by no worker: it waits in RabbitMQ — unless the master
        // stopped between the claim's commit and the publish. Published again: a second copy
        // is cancelled at its first event, a lost one would never run.
        txn.AfterCommit([this, tags = bc->tags, msg = JobMessage(spec)](const Status& st) {
          if (st.ok()) broker_->PublishJob(tags, msg);
        });
      }
    }
    ResetWorkers(txn);
    spdlog::info("recovered {} queued requests and {} jobs in progress", queued.size(),
                 claimed.size() - foreign.size());
    if (!events_active_) ForgetJobs();  // a standby: the master taking over reads them again
    if (!orphans_.empty()) ScheduleReap(opts_.worker_grace);
  });
}

Status Controller::ReloadAfterRollback(Store& store, bool takeover) {
  std::vector<RequestRecord> queued, claimed;
  std::set<int64_t> foreign;  // other masters' running jobs
  Status st = ForeignClaims(store, false, &foreign);
  if (st.ok()) st = store.ListRequests("queued", 1 << 30, &queued);
  if (st.ok()) st = store.ListRequests("claimed", 1 << 30, &claimed);
  if (!st.ok()) {
    // Reads failing too: nothing runs on the stale memory; the core loop asks again.
    spdlog::error("cannot reload the queue from the store: {}", st.message());
    return st;
  }
  queue_ = JobQueue();
  for (const auto& r : queued) queue_.Add({r.id, r.priority, r.builder});
  deferred_.clear();  // rolled back with the batch
  ends_ = BatchedEnds();
  std::map<JobKey, ActiveJob> before = std::move(active_);
  std::map<JobKey, Orphan> orphans_before = std::move(orphans_);
  active_.clear();
  orphans_.clear();
  lock_counts_.clear();
  for (const auto& [name, w] : workers_.all()) workers_.Find(name)->running.clear();
  pool_stored_.clear();  // the on-demand instances are written again at the next tick
  const int64_t deadline = NowMs() + opts_.worker_grace.count();
  for (const auto& r : claimed) {
    if (foreign.count(r.id)) continue;
    JobKey key{r.id, r.attempt};
    ActiveJob job{r.worker, r.builder, 0, {}, {}, {}};
    BuildRecord b;
    if (store.FindBuild(r.id, r.attempt, &b).ok()) {
      job.build_id = b.id;
      job.started_at = b.started_at;
      if (job.worker.empty()) job.worker = b.worker;  // distributed mode: adopted
    }
    const BuilderConfig* bc = config_->FindBuilder(r.builder);
    if (auto old = before.find(key); old != before.end()) {
      job.secrets = old->second.secrets;
    } else if (bc) {
      for (auto& [name, value] : JobSecrets(*bc)) job.secrets.push_back(value);
    }
    if (bc) TakeLocks(*bc, r.worker, job);  // as ClaimJob took them
    if (!job.worker.empty()) {
      if (ConnectedWorker* w = workers_.Find(job.worker)) {
        w->running.insert(key);
      } else {
        auto o = orphans_before.find(key);
        orphans_[key] = {job.worker, o != orphans_before.end() ? o->second.deadline : deadline};
      }
    }
    active_[key] = std::move(job);
  }
  // What each worker sent beyond what is stored comes again (also when nothing of it was
  // applied: its first event in the batch may be the one that failed).
  for (const auto& [name, cw] : workers_.all()) {
    ConnectedWorker& w = *workers_.Find(name);
    if (w.applied_upto < 0) continue;
    w.applied_upto = w.stored_upto;
    w.resend_from = 0;
    w.recorded_upto = -1;
    // Distributed mode: the store says what is applied (another master may have applied more
    // than this one stored: the batch failed on that conflict); read again at the next event.
    if (Distributed() && !w.instance.empty()) w.applied_upto = -1;
    RequestResend(w);
    if (w.applied_upto < 0) w.stored_upto = -1;
  }
  if (!takeover)
    spdlog::warn("state reloaded from the store after a rollback: {} queued, {} in progress",
                 queued.size(), claimed.size());
  if (!events_active_) ForgetJobs();
  if (!orphans_.empty()) ScheduleReap(opts_.worker_grace);
  // The failed batch's dispatching is retried (with the core loop's backoff).
  if (!queue_.empty()) core_.Post([this](Txn& txn) { Dispatch(txn); });
  return Status::Ok();
}

void Controller::OnHello(ConnId conn, WorkerHello hello, std::function<void(Status)> reply) {
  core_.Post([this, conn, hello = std::move(hello), reply = std::move(reply)](Txn& txn) {
    const WorkerConfig* wc = config_->FindWorkerOrInstance(hello.name);
    if (!wc || !SecretsEqual(wc->secret, hello.secret)) {
      spdlog::warn("refused worker '{}' from {}: {}", hello.name, hello.remote,
                   wc ? "wrong secret" : "unknown worker name");
      return reply(Status::Unauthorized("unknown worker or wrong secret"));
    }
    if (Status st = AdmitPoolInstance(*wc, hello.name); !st.ok()) {
      spdlog::warn("refused worker '{}' from {}: {}", hello.name, hello.remote, st.message());
      return reply(st);
    }
    if (auto* old = workers_.Find(hello.name)) {
      // A second connection under the same name: the newest wins (the old one is likely a
      // half-open connection from before a network break).
      spdlog::warn("worker {} connected again from {}; closing its previous connection", hello.name,
                   hello.remote);
      if (broker_) broker_->Close(old->conn, "replaced by a new connection");
      for (const auto& key : old->running)
        orphans_[key] = {hello.name, NowMs() + opts_.worker_grace.count()};
      workers_.Remove(hello.name);
    }
    ConnectedWorker w;
    w.name = hello.name;
    w.instance = hello.instance;
    w.conn = conn;
    w.tags = {wc->tags.begin(), wc->tags.end()};
    w.os = hello.os;
    w.capacity = hello.capacity > 0 ? std::min(hello.capacity, wc->capacity) : wc->capacity;
    w.connected_at = w.last_seen = NowMs();
    w.paused = hello.paused;
    if (wc->name != hello.name) {  // an on-demand instance
      w.pool = wc->name;
      auto p = pools_.find(wc->name);
      const pool::Instance* i =
          p == pools_.end() ? nullptr : pool::FindInstance(p->second->state(), hello.name);
      w.draining = i && pool::TakesNoJob(i->state);
    }
    ConnectedWorker& added = workers_.Add(std::move(w));

    // Jobs the worker says it still runs: keep those that are still its own, cancel the rest.
    std::set<JobKey> reported;
    for (const RunningJob& j : hello.running) {
      JobKey key{j.request, j.attempt};
      auto it = active_.find(key);
      if (it == active_.end() && Distributed()) it = LoadClaimedJob(txn, key);
      if (it == active_.end()) {
        // Several masters: it may be a job of another master (gone, or left by this worker).
        AdoptFromStore(txn, hello.name, key);
        it = active_.find(key);
      }
      if (it != active_.end() && it->second.worker.empty()) AdoptJob(txn, added, key, it->second);
      if (it != active_.end() && it->second.worker == hello.name) {
        added.running.insert(key);
        orphans_.erase(key);
        reported.insert(key);
      } else {
        SendCancel(conn, key);
      }
    }
    // Jobs the master gave it that it no longer knows: lost with its previous process.
    std::vector<JobKey> lost;
    // Distributed mode, the same process as the one whose events were applied last: not yet.
    // Its jobs' last events (job.finished) may still be queued in RabbitMQ behind this hello (a
    // master that took over, or restarted, reads a backlog): the orphan's deadline decides.
    int64_t applied = 0;
    const bool same_process =
        Distributed() && txn.store().GetAppliedEvents(hello.name, hello.instance, &applied).ok();
    for (const auto& [key, orphan] : orphans_)
      if (orphan.worker == hello.name && !reported.count(key) && !same_process) lost.push_back(key);
    for (const auto& key : lost) {
      orphans_.erase(key);
      LoseJob(txn, key, "worker " + hello.name + " restarted without it");
    }

    WorkerRecord rec;
    rec.name = hello.name;
    rec.tags = wc->tags;
    rec.capacity = added.capacity;
    rec.connected = true;
    rec.last_seen = NowMs();
    rec.master = master_;
    (void)txn.store().UpsertWorker(rec);
    spdlog::info("worker {} connected from {} (capacity {}, {}{} jobs resumed)", hello.name,
                 hello.remote, added.capacity, hello.os.empty() ? "" : hello.os + ", ",
                 reported.size());
    // First among the callbacks: the welcome goes before the jobs Dispatch sends below (they
    // run first too, registered after it).
    txn.AfterCommitFirst([this, reply, name = hello.name, conn](const Status& st) {
      if (st.ok()) return reply(st);
      // What the hello decided is rolled back, so the worker is not welcome yet: it is closed
      // (not refused: it is not a stranger) and its next connection says hello again.
      if (ConnectedWorker* w = workers_.Find(name); w && w->conn == conn) {
        int64_t deadline = NowMs() + opts_.worker_grace.count();
        for (const auto& key : w->running) orphans_[key] = {name, deadline};
        workers_.Remove(name);
        if (!orphans_.empty()) ScheduleReap(opts_.worker_grace);
      }
      reply(Status::Unavailable("the master cannot store this now (" + st.message() +
                                "); connect again"));
    });
    Notify(txn, {{"type", "worker"}, {"name", hello.name}, {"connected", true}});
    Dispatch(txn);
  });
}

void Controller::OnClosed(ConnId conn, const std::string& worker) {
  core_.Post([this, conn, worker](Txn& txn) {
    ConnectedWorker* w = workers_.Find(worker);
    if (!w || w->conn != conn) return;                    // an older connection, already replaced
    if (!events_active_) return workers_.Remove(worker);  // a standby keeps no jobs
    int64_t deadline = NowMs() + opts_.worker_grace.count();
    for (const auto& key : w->running) orphans_[key] = {worker, deadline};
    (void)txn.store().ReleaseWorker(worker, master_, NowMs());
    const bool instance = !w->pool.empty();
    workers_.Remove(worker);
    if (instance) KickPools();
    Notify(txn, {{"type", "worker"}, {"name", worker}, {"connected", false}});
    if (!orphans_.empty()) ScheduleReap(opts_.worker_grace);
  });
}

namespace {

// An event's id, INT64_MIN when it has none.
int64_t EventId(const Json& m) {
  auto it = m.find("id");
  return it != m.end() && it->is_number_integer() ? it->get<int64_t>() : INT64_MIN;
}
int64_t EventId(const WorkerEvent& m) {
  if (!m.tree.is_null()) return EventId(m.tree);
  return m.id >= 0 ? m.id : INT64_MIN;
}

// For the log line of an event that could not be applied.
std::string Describe(const Json& m) {
  return m.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 200);
}
std::string Describe(const WorkerEvent& m) {
  if (!m.tree.is_null()) return Describe(m.tree);
  return m.type + " " + std::to_string(m.id) + " of request " + std::to_string(m.request);
}

}  // namespace

void Controller::OnMessages(ConnId conn, const std::string& worker, std::vector<Json> msgs) {
  core_.Post([this, conn, worker, msgs = std::move(msgs)](Txn& txn) mutable {
    ApplyEvents(txn, conn, worker, msgs);
  });
}

void Controller::OnEvents(ConnId conn, const std::string& worker, std::vector<WorkerEvent> events) {
  core_.Post([this, conn, worker, events = std::move(events)](Txn& txn) mutable {
    ApplyEvents(txn, conn, worker, events);
  });
}

template <typename Msg>
void Controller::ApplyEvents(Txn& txn, ConnId conn, const std::string& worker,
                             std::vector<Msg>& msgs) {
  ConnectedWorker* w = workers_.Find(worker);
  if (!w || w->conn != conn) return;
  if (!ends_.empty()) FlushEnds(txn);  // left by a batch an exception cut short
  const int64_t now = NowMs();
  w->last_seen = now;
  // RabbitMQ delivers what it requeued after later messages: one batch may hold several
  // deliveries out of order. (Usually it is in order: then nothing is moved.)
  auto by_id = [](const Msg& a, const Msg& b) { return EventId(a) < EventId(b); };
  if (!std::is_sorted(msgs.begin(), msgs.end(), by_id))
    std::stable_sort(msgs.begin(), msgs.end(), by_id);
  // Applied strictly in id order, up to the first event that is not: what follows it is
  // dropped and comes again with the resend, so the stored events are always a prefix.
  for (const auto& m : msgs) {
    const int64_t id = EventId(m);
    const bool has_id = id != INT64_MIN;
    if (has_id) {
      // The first event of a connection: what came before it was acknowledged earlier.
      if (w->applied_upto < 0) w->stored_upto = w->applied_upto = FirstUnapplied(txn, *w, id);
      if (id <= w->applied_upto) continue;  // applied already (a resend crossed an ack)
      if (id > w->applied_upto + 1 && !GiveUpWaiting(*w, id, now)) {
        RequestResend(*w);  // one before it was not applied
        break;
      }
    }
    Status st;
    try {
      st = HandleEvent(txn, *w, m);
    } catch (const Json::exception& e) {
      // Events are checked where they enter (CheckEvent); should one slip through, it costs
      // that event only (acknowledged and dropped), not the rest of the batch nor the master.
      spdlog::error("worker {}: event {} not applied: {}", worker, Describe(m), e.what());
    }
    if (!st.ok()) {
      // Not applied. When the store failed, the whole batch is rolled back and the resend
      // asked by the rollback; otherwise (a missing log chunk) it is asked here.
      if (txn.status().ok()) RequestResend(*w);
      break;
    }
    if (has_id) {
      w->applied_upto = id;
      w->gap_since = 0;
      if (w->resend_from && id >= w->resend_from) w->resend_from = 0;
    }
  }
  // The writes put off are made once per batch: a job whose events came in other tasks of
  // the same batch (its start and its end) then costs one write per row too.
  txn.BeforeCommitOnce(&deferred_, [this](Txn& t) { FlushDeferred(t); });
  if (w->applied_upto >= 0 && broker_) {
    RecordAppliedEvents(txn, *w);
    // One ack per connection and batch, sent after its commit: a worker sends each event as
    // a message of its own, and a batch holds several of them (acks are cumulative).
    auto [ack, first] = batch_acks_.try_emplace(conn, w->applied_upto);
    ack->second = w->applied_upto;
    if (first) {
      txn.AfterCommit([this, conn, worker](const Status& st) {
        auto node = batch_acks_.extract(conn);
        // Only what is durable is acknowledged; after a failed commit the events come again.
        if (!st.ok() || node.empty()) return;
        const int64_t upto = node.mapped();
        if (ConnectedWorker* w = workers_.Find(worker); w && w->conn == conn)
          w->stored_upto = std::max(w->stored_upto, upto);
        broker_->Send(conn, Json{{"type", "ack"}, {"upto", upto}});
      });
    }
  }
  Dispatch(txn);
}

bool Controller::GiveUpWaiting(ConnectedWorker& w, int64_t id, int64_t now) {
  if (w.gap_since == 0) w.gap_since = now;
  if (now - w.gap_since < kGiveUpOnMissingEventsMs) return false;
  w.gap_since = 0;
  if (!broker_ || !broker_->RoutesJobs()) {
    // A worker keeps what is not acknowledged: one that does not resend when asked sends it
    // all again after a reconnect.
    spdlog::error("worker {}: event {} did not come after a resend request; reconnecting it",
                  w.name, w.applied_upto + 1);
    if (broker_) broker_->Close(w.conn, "events missing after a resend request");
    return false;
  }
  // RabbitMQ no longer has them (e.g. dead-lettered as malformed). A log chunk among them is
  // caught by the log's own sequence check, so no build passes for complete without it.
  spdlog::error("worker {}: events {} to {} never arrived; going on without them", w.name,
                w.applied_upto + 1, id - 1);
  w.applied_upto = id - 1;
  return true;
}

void Controller::RequestResend(ConnectedWorker& w) {
  if (!broker_) return;
  const int64_t from = w.applied_upto + 1;
  // A worker resends everything from |from| once asked, so asking again while that resend is
  // under way would only make it start over. RabbitMQ instead requeues what is unacknowledged
  // at the time of the request, so there every drop asks (a request is cheap and idempotent).
  if (w.resend_from == from && !broker_->RoutesJobs()) return;
  w.resend_from = from;
  broker_->Send(w.conn, Json{{"type", "resend"}, {"from", from}});
}

Status Controller::HandleEvent(Txn& txn, ConnectedWorker& w, const Json& ev) {
  return HandleEvent(txn, w, ReadEvent(ev), &ev);
}

Status Controller::HandleEvent(Txn& txn, ConnectedWorker& w, const WorkerEvent& ev) {
  if (!ev.tree.is_null()) return HandleEvent(txn, w, ev.tree);
  return HandleEvent(txn, w, ReadEvent(ev), nullptr);
}

Status Controller::HandleEvent(Txn& txn, ConnectedWorker& w, const EventView& e, const Json* tree) {
  if (e.type == EventType::kHeartbeat) return Status::Ok();
  if (e.type == EventType::kUnknown) {
    spdlog::warn("worker {}: unknown event type '{}' ignored", w.name, e.type_name);
    return txn.status();
  }
  const JobKey key{e.request, e.attempt};
  auto it = active_.find(key);
  if (it == active_.end() && Distributed()) it = LoadClaimedJob(txn, key);
  bool adopted = false;  // and its builddir stored
  if (it != active_.end() && it->second.worker.empty()) {
    // The worker chooses the directory: job.started's builddir becomes a build property.
    Json builddir = Json::object();
    if (e.type == EventType::kJobStarted && e.has_builddir) builddir["builddir"] = e.builddir;
    adopted = AdoptJob(txn, w, key, it->second, builddir, /*defer=*/true);
  }
  if (it == active_.end() || it->second.worker != w.name) {
    // An event for a job this worker no longer owns (it was re-queued while the worker was
    // away, or already finished). Acknowledge it and make sure the worker stops the job.
    if (e.type != EventType::kJobFinished) SendCancel(w.conn, key);
    return txn.status();
  }
  ActiveJob& job = it->second;
  const int64_t now = NowMs();
  Status st;
  switch (e.type) {
    case EventType::kJobStarted:
      EnsureBuild(txn, key, job, w.name);
      if (!adopted && e.has_builddir && job.build_id &&
          MergeProperties(txn, job, Json{{"builddir", e.builddir}})) {
        job.build_dirty = true;
        Defer(key, job);
      }
      // Merged (docs/protocol.md): the first step started with the job.
      if (e.has_step) StartStepOf(txn, key, job, w.name, e, now);
      break;
    case EventType::kStepStarted:
      StartStepOf(txn, key, job, w.name, e, now);
      break;
    case EventType::kLog: {
      // A chunk needs its step's row: a step ended in this batch is written first.
      if (!ends_.steps.empty()) FlushEnds(txn);
      const int64_t build_id = EnsureBuild(txn, key, job, w.name);
      // A chunk grows its step's row: the row is written first.
      if (job.pending_step) WriteDeferred(txn, job);
      Store& store = txn.store();
      // A log chunk always comes as a tree (core/event_parse.h reads no "log" event).
      st = tree ? AppendLogEvent(store, job, build_id, e.step, e.seq, *tree)
                : Status::Invalid("a log chunk without its JSON");
      if (st.IsConflict() && txn.status().ok()) {
        int64_t next = 0;
        GROVE_RETURN_IF_ERROR(store.NextLogSeq(build_id, e.step, &next));
        if (next < e.seq) return MissingLogChunks(txn, w, key, job, e.step, next, e.seq);
      }
      if (Live(txn)) Notify(txn, {{"type", "log"}, {"build", job.build_id}, {"step", e.step}});
      break;
    }
    case EventType::kStepFinished: {
      bool applied = true;
      st = FinishStepOf(txn, w, key, job, e, e.result, now, &applied);
      if (!applied) return st;
      break;
    }
    case EventType::kJobFinished: {
      Result r = ParseResult(e.result).value_or(Result::kException);
      // The usual end (a job that is not handed back, no notifier reading the build's end in
      // this transaction) is written with the batch's other ends: a few rows per statement.
      const bool batch = r != Result::kRetry && !(notices_ && !config_->notify.empty());
      if (e.has_step_result) {
        // Merged: the last step's end first, as if its step.finished had come.
        bool applied = true;
        Status fs = FinishStepOf(txn, w, key, job, e, e.step_result, now, &applied, batch);
        if (!applied) return fs;
      }
      EnsureBuild(txn, key, job, w.name);
      if (r == Result::kRetry) {
        // Handed back by a stopping worker: the next attempt runs now, elsewhere (the worker
        // takes nothing new until it reconnects).
        w.paused = true;
        LoseJob(txn, key, "worker " + w.name + " stopped and handed it back");
      } else {
        FinishJob(txn, key, r, batch);
      }
      break;
    }
    default:
      break;
  }
  // A refused write (a step that does not exist, ...) can never succeed: acknowledged all the
  // same. A failed one (the disk is full) dooms the batch: returned, so it comes again.
  if (!st.ok())
    spdlog::warn("worker {}: event {} for request {}: {}", w.name, e.type_name, key.request,
                 st.message());
  return txn.status();
}

void Controller::StartStepOf(Txn& txn, const JobKey& key, ActiveJob& job, const std::string& worker,
                             const EventView& e, int64_t now) {
  const int64_t build_id = EnsureBuild(txn, key, job, worker);
  job.step_started_at = now;
  if (Live(txn))
    Notify(txn, {{"type", "step"}, {"build", build_id}, {"step", e.step}, {"state", "running"}});
  // A step started again (a resend) stays as first started, as the store's insert would keep it.
  if (job.pending_step && job.pending_step->idx == e.step) return;
  if (job.pending_step) WriteDeferred(txn, job);
  StepRecord& s = job.pending_step.emplace();
  s.build_id = build_id;
  s.idx = e.step;
  s.name = e.name;
  s.state = "running";
  s.started_at = now;
  Defer(key, job);
}

Status Controller::FinishStepOf(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                                const EventView& e, std::string_view result, int64_t now,
                                bool* applied, bool batch) {
  Store& store = txn.store();
  const int step = e.step;
  const int64_t build_id = EnsureBuild(txn, key, job, w.name);
  // The worker says how many chunks it sent (docs/protocol.md): a step never ends with a
  // hole at the end of its log either.
  if (e.log_chunks > 0 && build_id) {  // none sent: none can be missing (the usual trivial step)
    int64_t next = 0;
    if (Status st = store.NextLogSeq(build_id, step, &next); !st.ok()) {
      *applied = false;
      return st;
    }
    if (e.log_chunks > next) {
      *applied = false;
      return MissingLogChunks(txn, w, key, job, step, next, e.log_chunks);
    }
  }
  const Result r = ParseResult(result).value_or(Result::kException);
  Status st;
  if (job.pending_step && job.pending_step->idx == step) {
    // Started in this batch: inserted once, finished.
    StepRecord s = std::move(*job.pending_step);
    job.pending_step.reset();
    s.state = "finished";
    s.result = static_cast<int>(r);
    s.finished_at = now;
    // A consume step's result (docs/protocol.md) is stored with the step's end.
    if (e.result_json && build_id) s.result_json = MaskJob(job, *e.result_json);
    // Batched unless its report writes more of the step (tests) or it is there twice (a resend).
    if (batch && build_id && !e.tests && ends_.step_keys.insert({build_id, step}).second)
      ends_.steps.push_back(std::move(s));
    else
      st = store.RecordStep(s);
  } else if (e.result_json && build_id) {
    st = store.FinishStepWithResult(build_id, step, r, now, MaskJob(job, *e.result_json));
  } else if (e.type == EventType::kJobFinished && build_id) {
    // Merged into the job's end, which follows at once: written with it (FinishJob).
    job.ending_step.emplace(step, r);
  } else {
    st = store.FinishStep(build_id, step, r, now);
  }
  if (!st.ok())
    spdlog::warn("worker {}: the end of step {} of request {}: {}", w.name, step, key.request,
                 st.message());
  if (job.step_started_at)
    RecordOnCommit(txn, [s = (now - job.step_started_at) / 1000.0] { metrics::StepFinished(s); });
  HandleStepReport(txn, key, job, e);
  if (Live(txn))
    Notify(txn, {{"type", "step"},
                 {"build", job.build_id},
                 {"step", step},
                 {"state", "finished"},
                 {"result", std::string(ResultName(r))}});
  return txn.status();
}

void Controller::Defer(const JobKey& key, ActiveJob& job) {
  if (job.deferred) return;
  job.deferred = true;
  deferred_.push_back(key);
}

void Controller::WriteDeferred(Txn& txn, ActiveJob& job) {
  if (job.pending_step && job.build_dirty && job.build_id &&
      job.build_id == job.pending_step->build_id) {
    // A job's start: its step and its build's directory in one write.
    Status st = txn.store().StartStepWith(*job.pending_step, job.worker, job.properties);
    if (!st.ok())
      spdlog::warn(
          "build {}: cannot store the start of step {} with the build's worker and "
          "properties: {}",
          job.build_id, job.pending_step->idx, st.message());
    job.pending_step.reset();
    job.build_dirty = false;
  }
  if (job.pending_step) {
    Status st = txn.store().StartStep(*job.pending_step);
    if (!st.ok())
      spdlog::warn("build {}: cannot store the start of step {}: {}", job.build_id,
                   job.pending_step->idx, st.message());
    job.pending_step.reset();
  }
  if (job.build_dirty && job.build_id) {
    // One write: the worker and the properties with it.
    Status st = txn.store().AdoptBuild(job.build_id, job.worker, job.properties);
    if (!st.ok())
      spdlog::warn("build {}: cannot store its worker and properties: {}", job.build_id,
                   st.message());
  }
  job.build_dirty = false;
  if (job.ending_step) {
    const auto [idx, result] = *job.ending_step;
    job.ending_step.reset();
    Status st = txn.store().FinishStep(job.build_id, idx, result, NowMs());
    if (!st.ok())
      spdlog::warn("build {}: cannot store the end of step {}: {}", job.build_id, idx,
                   st.message());
  }
}

void Controller::FlushDeferred(Txn& txn) {
  for (const JobKey& key : deferred_) {
    auto it = active_.find(key);
    if (it == active_.end()) continue;  // finished: written with its end
    it->second.deferred = false;
    WriteDeferred(txn, it->second);
  }
  deferred_.clear();
  FlushEnds(txn);
}

void Controller::FlushEnds(Txn& txn) {
  if (ends_.empty()) return;
  BatchedEnds ends = std::move(ends_);
  ends_ = BatchedEnds();
  // As the rows one at a time were: a refused write is logged (nothing retries it), a failed
  // one dooms the transaction (the batch comes again). One call: on PostgreSQL a job's step,
  // build and request are one statement (Store::FinishJobs).
  if (Status st = txn.store().FinishJobs(ends.steps, ends.step_ends, ends.builds); !st.ok())
    spdlog::warn("cannot store the end of {} steps and {} builds: {}",
                 ends.steps.size() + ends.step_ends.size(), ends.builds.size(), st.message());
}

// A JSON chunk ("data") is masked and compressed here; a binary frame's ("zdata", checked and
// counted by the broker: core/log_frame.h) is stored as the worker compressed it, unless the job
// has secrets: then it is masked here too, like any chunk (the worker masks already; this
// catches one that does not).
Status Controller::AppendLogEvent(Store& store, const ActiveJob& job, int64_t build_id, int step,
                                  int64_t seq, const Json& ev) {
  auto z = ev.find("zdata");
  if (z == ev.end() || !z->is_binary())
    return store.AppendLog(build_id, step, seq, MaskLog(job, StringOr(ev, "data")));
  const auto& bytes = z->get_binary();
  const std::string_view zdata(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const int64_t raw_size = IntOr(ev, "raw_size", 0);
  if (job.secrets.empty())
    return store.AppendCompressedLog(build_id, step, seq, zdata, raw_size, IntOr(ev, "lines", 0));
  std::string data;
  GROVE_RETURN_IF_ERROR(DecompressLogData(zdata, raw_size, &data));
  return store.AppendLog(build_id, step, seq, MaskLog(job, std::move(data)));
}

Status Controller::MissingLogChunks(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                                    int step, int64_t next, int64_t got) {
  const std::pair<int, int64_t> missing{step, next};
  if (job.awaited_chunk != missing) {
    job.awaited_chunk = missing;
    spdlog::warn(
        "worker {}: request {} attempt {}: log chunk {} of step {} is missing; asking "
        "for a resend",
        w.name, key.request, key.attempt, next, step);
    return Status::Unavailable("log chunk " + std::to_string(next) + " missing");
  }
  // Resent, and still missing: the worker no longer has it. The log can never be complete, so
  // the build must not pass for a success: it ends as an exception, and says why where people
  // look (the log of the step).
  const std::string why = "log chunks " + std::to_string(next) + " to " + std::to_string(got - 1) +
                          " of step " + std::to_string(step) + " never reached the master";
  spdlog::error("worker {}: request {} attempt {}: {}; the build ends as an exception", w.name,
                key.request, key.attempt, why);
  WriteDeferred(txn, job);  // the step's row, before its log and end
  Store& store = txn.store();
  (void)store.AppendLog(job.build_id, step, next,
                        "\n[grove] " + why + " (lost); the build ends as an exception\n");
  (void)store.FinishStep(job.build_id, step, Result::kException, NowMs());
  SendCancel(w.conn, key);
  FinishJob(txn, key, Result::kException);
  return txn.status();
}

Json Controller::StartingProperties(const std::string& builder, const RequestRecord& req,
                                    const std::string& worker) const {
  Json props = Json::object();
  if (const BuilderConfig* bc = config_->FindBuilder(builder); bc && bc->properties.is_object())
    props = bc->properties;
  if (req.properties.is_object())
    for (auto& [k, v] : req.properties.items()) props[k] = v;
  if (req.source.is_object()) {
    for (const char* k : {"branch", "revision", "repository"})
      if (req.source.contains(k) && !props.contains(k)) props[k] = req.source[k];
  }
  // The store's columns say these (a request cannot set them; a step still may).
  props.erase("buildnumber");
  props.erase("buildid");
  props["buildername"] = builder;
  props["workername"] = worker;
  return props;
}

int64_t Controller::EnsureBuild(Txn& txn, const JobKey& key, ActiveJob& job,
                                const std::string& worker, const RequestRecord* req) {
  if (job.build_id) return job.build_id;
  BuildRecord b;
  b.request_id = key.request;
  b.attempt = key.attempt;
  b.builder = job.builder;
  b.worker = worker;
  b.state = "running";
  b.started_at = NowMs();
  RequestRecord read;  // stays empty if it cannot be read: the builder's properties still apply
  if (!req) (void)txn.store().GetRequest(key.request, &read);
  b.properties = StartingProperties(job.builder, req ? *req : read, worker);
  Status st = txn.store().StartBuild(&b);
  if (!st.ok()) {
    spdlog::error("cannot record the build of request {}: {}", key.request, st.message());
    return 0;
  }
  BuildStarted(txn, job, b, key.request);
  return b.id;
}

void Controller::BuildStarted(Txn& txn, ActiveJob& job, BuildRecord& b, int64_t request) {
  job.build_id = b.id;
  job.build_number = b.number;
  job.started_at = b.started_at;
  AnnounceBuildStarted(txn, b, request);
  job.properties = std::move(b.properties);  // as stored (a repeated start: as found)
}

void Controller::AnnounceBuildStarted(Txn& txn, const BuildRecord& b, int64_t request) {
  QueueNotices(txn, b.id, "started");
  Notify(txn, {{"type", "build"},
               {"id", b.id},
               {"request", request},
               {"builder", b.builder},
               {"number", b.number},
               {"state", "running"}});
}

void Controller::FinishJob(Txn& txn, const JobKey& key, Result result, bool batch) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  const int64_t now = NowMs();
  ActiveJob& job = it->second;
  // The last step's end (merged into job.finished) goes with the build's and the request's.
  const auto ending = std::exchange(job.ending_step, std::nullopt);
  if (job.pending_step) WriteDeferred(txn, job);  // a step that never ended (still stored)
  if (batch && job.build_id && job.properties.is_object()) {
    // Written with the batch's other ends (Store::FinishJobs), its last step's end too when
    // that step started in an earlier batch.
    if (ending) ends_.step_ends.push_back({job.build_id, ending->first, ending->second, now});
    // The build's worker and properties as the batch left them (the job goes: moved).
    ends_.builds.push_back(
        {job.build_id, result, now, job.worker, std::move(job.properties), key.request});
  } else {
    JobEnd end;
    end.build_id = job.build_id;
    end.request_id = key.request;
    end.result = result;
    end.now = now;
    if (ending) std::tie(end.step, end.step_result) = *ending;
    if (job.build_dirty) {
      // The worker and properties the batch changed go with the end: one write.
      end.worker = &job.worker;
      end.properties = &job.properties;
    }
    if (Status st = txn.store().FinishJobRows(end); !st.ok() && txn.status().ok())
      spdlog::warn("request {}: cannot store the end of its build {}: {}", key.request,
                   job.build_id, st.message());
  }
  job.build_dirty = false;
  RecordOnCommit(txn, [b = it->second.builder, r = std::string(ResultName(result)),
                       s = it->second.started_at ? (now - it->second.started_at) / 1000.0 : -1] {
    metrics::BuildFinished(b, r, s);
  });
  QueueNotices(txn, it->second.build_id, "finished");
  Notify(txn, {{"type", "build"},
               {"id", it->second.build_id},
               {"request", key.request},
               {"builder", it->second.builder},
               {"state", "finished"},
               {"result", std::string(ResultName(result))}});
  if (auto* w = workers_.Find(it->second.worker)) w->running.erase(key);
  ReleaseLocks(it->second);
  orphans_.erase(key);
  active_.erase(it);
}

void Controller::LoseJob(Txn& txn, const JobKey& key, const std::string& why) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  if (!StillOwned(txn, key)) {
    // Its worker took it to another master, which adopted it: that one sees it to the end.
    spdlog::info("request {} attempt {} is run through another master now", key.request,
                 key.attempt);
    if (auto* w = workers_.Find(it->second.worker)) w->running.erase(key);
    ReleaseLocks(it->second);
    orphans_.erase(key);
    active_.erase(it);
    return;
  }
  WriteDeferred(txn, it->second);  // its steps are read and ended below
  Store& store = txn.store();
  const int64_t now = NowMs();
  spdlog::warn("request {} attempt {} lost: {}", key.request, key.attempt, why);
  if (it->second.build_id) {
    std::vector<StepRecord> steps;
    if (store.ListSteps(it->second.build_id, &steps).ok()) {
      for (const auto& s : steps)
        if (s.state == "running") (void)store.FinishStep(s.build_id, s.idx, Result::kRetry, now);
    }
    (void)store.FinishBuild(it->second.build_id, Result::kRetry, now);
    RecordOnCommit(txn, [b = it->second.builder,
                         s = it->second.started_at ? (now - it->second.started_at) / 1000.0 : -1] {
      metrics::BuildFinished(b, "retry", s);
    });
    Notify(txn, {{"type", "build"},
                 {"id", it->second.build_id},
                 {"request", key.request},
                 {"builder", it->second.builder},
                 {"state", "finished"},
                 {"result", "retry"}});
  }
  RequestRecord req;
  Status st = store.GetRequest(key.request, &req);
  if (st.ok() && req.state == "claimed") {
    if (req.attempt >= opts_.max_attempts) {
      spdlog::error("request {} lost {} times; giving up", key.request, req.attempt);
      (void)store.FinishRequest(key.request, Result::kException, now);
    } else if (store.RequeueRequest(key.request).ok()) {
      queue_.Add({req.id, req.priority, req.builder});
    }
  }
  if (auto* w = workers_.Find(it->second.worker)) w->running.erase(key);
  ReleaseLocks(it->second);
  active_.erase(it);
}

void Controller::ReapOrphans(Txn& txn) {
  const int64_t now = NowMs();
  std::vector<JobKey> due;
  int64_t next = 0;
  for (const auto& [key, o] : orphans_) {
    if (o.deadline <= now)
      due.push_back(key);
    else
      next = next ? std::min(next, o.deadline) : o.deadline;
  }
  for (const auto& key : due) {
    std::string worker = orphans_[key].worker;
    orphans_.erase(key);
    LoseJob(txn, key, "worker " + worker + " did not come back");
  }
  if (next) ScheduleReap(std::chrono::milliseconds(next - now + 1));
  if (!due.empty()) Dispatch(txn);
}

void Controller::ScheduleReap(std::chrono::milliseconds delay) {
  auto timer = std::make_shared<asio::steady_timer>(net_, delay);
  timer->async_wait([this, timer, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    core_.Post([this](Txn& txn) { ReapOrphans(txn); });
  });
}

void Controller::SendCancel(ConnId conn, const JobKey& key) {
  if (!broker_) return;
  Json msg = KeyJson(key);
  msg["type"] = "cancel";
  broker_->Send(conn, msg);
}

bool Controller::Live(Txn& txn) {
  if (!hub_) return false;
  if (hub_->Listened()) return true;
  if (!resync_armed_) {
    resync_armed_ = true;
    txn.AfterCommit([this, hub = hub_](const Status&) {
      resync_armed_ = false;
      // A page that subscribed while this transaction left its events out reads after it.
      if (hub->Listened()) hub->Resync();
    });
  }
  return false;
}

void Controller::Notify(Txn& txn, Json event) {
  if (!hub_) return;
  // One callback publishes all of a transaction's events, in order, at the place of the first
  // (never later than each would have been: a client answered after it sees them all).
  const bool first = pending_events_.empty();
  pending_events_.push_back(std::move(event));
  if (!first) return;
  txn.AfterCommit([this, hub = hub_](const Status& st) {
    std::vector<Json> events;
    events.swap(pending_events_);
    if (!st.ok()) return;
    for (const Json& e : events) hub->Publish(e);
  });
}

bool Controller::ClaimFresh(Txn& txn, const RequestRecord& fresh, const BuilderConfig& bc,
                            const std::string& worker, RequestRecord* claimed, BuildRecord* build) {
  const int64_t now = NowMs();
  build->request_id = fresh.id;
  build->builder = bc.name;
  build->worker = worker;
  build->state = "running";
  build->started_at = now;
  build->properties = StartingProperties(bc.name, fresh, worker);
  Status st = txn.store().ClaimFreshRequest(now, build);
  if (!st.ok()) {
    // Not queued at attempt 0 (claimed elsewhere, cancelled): the usual claim tells why.
    if (!st.IsConflict()) spdlog::error("cannot claim request {}: {}", fresh.id, st.message());
    return false;
  }
  *claimed = fresh;
  claimed->state = "claimed";
  claimed->attempt = build->attempt;
  claimed->worker = worker;
  claimed->claimed_at = now;
  return true;
}

bool Controller::ClaimJob(Txn& txn, int64_t request_id, const BuilderConfig& bc,
                          const std::string& worker, JobSpec* job, const RequestRecord* fresh) {
  RequestRecord req;
  BuildRecord build;  // started with the claim (ClaimFresh), else by MakeJob
  if (!fresh || !ClaimFresh(txn, *fresh, bc, worker, &req, &build)) {
    if (!ClaimQueued(txn, request_id, worker, &req)) return false;
  }
  req.id = request_id;
  Claimed(txn, bc, worker, req, build, job);
  return true;
}

void Controller::Claimed(Txn& txn, const BuilderConfig& bc, const std::string& worker,
                         RequestRecord& req, BuildRecord& build, JobSpec* job) {
  JobKey key{req.id, req.attempt};
  ActiveJob& active = active_[key];
  active = ActiveJob{worker, bc.name, 0, {}, {}};
  TakeLocks(bc, worker, active);  // AMQP mode (no worker yet): master locks only
  if (build.id) BuildStarted(txn, active, build, req.id);
  MakeJob(txn, key, active, bc, job, &req);
  if (req.submitted_at)
    RecordOnCommit(txn, [s = (NowMs() - req.submitted_at) / 1000.0] { metrics::QueueWait(s); });
  if (Live(txn))
    Notify(txn, {{"type", "request"}, {"id", req.id}, {"builder", bc.name}, {"state", "claimed"}});
}

Status Controller::RunAtOnce(Txn& txn, RequestRecord* r, const BuilderConfig& bc, bool* ran) {
  *ran = false;
  // Anything queued may have to come first (a higher priority, an older request of the same
  // builder, a lock): then the queue decides, as it always did. So does the broker in
  // distributed mode, and a pool that may start an instance for it.
  if (!broker_ || broker_->RoutesJobs() || !pools_.empty() || !queue_.empty() ||
      !bc.locks.empty() || r->attempt != 0 || !workers_.AnyFree())
    return Status::Ok();
  ConnectedWorker* w = workers_.PickFor(bc);
  if (!w) return Status::Ok();
  GROVE_RETURN_IF_ERROR(txn.status());
  const int64_t now = NowMs();
  r->priority = bc.priority;
  if (r->submitted_at == 0) r->submitted_at = now;
  BuildRecord build;
  build.builder = bc.name;
  build.worker = w->name;
  build.state = "running";
  build.started_at = now;
  build.properties = StartingProperties(bc.name, *r, w->name);
  // The request, its claim and its build in one store call: one write fewer than inserting it
  // queued and claiming it (on PostgreSQL, one round trip for all three).
  GROVE_RETURN_IF_ERROR(txn.store().AddClaimedRequest(now, r, &build));
  *ran = true;
  // As if queued and claimed at once: the same live events, in the same order.
  if (Live(txn))
    Notify(txn, {{"type", "request"}, {"id", r->id}, {"builder", r->builder}, {"state", "queued"}});
  JobSpec job;
  Claimed(txn, bc, w->name, *r, build, &job);
  SendJob(txn, *w, std::move(job));
  return Status::Ok();
}

void Controller::SendJob(Txn& txn, ConnectedWorker& w, JobSpec job) {
  w.running.insert({job.request_id, job.attempt});
  w.last_job_at = NowMs();
  // Before the batch's other callbacks: the worker's slot idles until the job arrives.
  txn.AfterCommitFirst([this, conn = w.conn, msg = JobMessage(job)](const Status& st) {
    // A job whose claim did not reach the disk is not sent; it will be found queued again.
    if (st.ok()) broker_->Send(conn, msg);
  });
}

bool Controller::ClaimQueued(Txn& txn, int64_t request_id, const std::string& worker,
                             RequestRecord* req) {
  if (!txn.status().ok()) return false;
  Status st = txn.store().ClaimRequestRecord(request_id, worker, NowMs(), req);
  if (!st.ok()) {
    // Several masters: another one claimed it first (its worker was free sooner).
    if (st.IsConflict())
      spdlog::debug("request {} not claimed: {}", request_id, st.message());
    else
      spdlog::error("cannot claim request {}: {}", request_id, st.message());
    return false;
  }
  return true;
}

void Controller::MakeJob(Txn& txn, const JobKey& key, ActiveJob& active, const BuilderConfig& bc,
                         JobSpec* job, const RequestRecord* claimed, bool with_steps) {
  RequestRecord read;
  if (!claimed) (void)txn.store().GetRequest(key.request, &read);
  const RequestRecord& req = claimed ? *claimed : read;
  job->request_id = key.request;
  job->attempt = key.attempt;
  job->builder = bc.name;
  job->source = req.source;
  job->properties = bc.properties;
  for (auto& [k, v] : req.properties.items()) job->properties[k] = v;
  if (with_steps) job->steps = bc.steps;
  if (job_token_ && StepsUseTokens(bc)) job->api_token = job_token_(key.request, key.attempt);
  PrepareJob(txn, key, active, bc, req, job);  // allocates the build: buildnumber is known
}

void Controller::Dispatch(Txn& txn) {
  if (!broker_) return;
  if (!pools_.empty()) KickPools();  // what still waits afterwards may need an instance
  if (broker_->RoutesJobs()) return DispatchToQueues(txn);
  for (auto it = queue_.begin(); it != queue_.end() && workers_.AnyFree();) {
    const BuilderConfig* bc = config_->FindBuilder(it->builder);
    if (!bc) {
      ++it;  // kept queued: the builder may come back with the next reconfig
      continue;
    }
    ConnectedWorker* w = bc->locks.empty() ? workers_.PickFor(*bc) : PickWithFreeLocks(*bc);
    if (!w) {
      ++it;  // no worker, or a lock it needs is taken: it waits (others may pass it)
      continue;
    }
    JobSpec job;
    if (!ClaimJob(txn, it->id, *bc, w->name, &job, it->fresh.get())) {
      it = queue_.Erase(it);
      continue;
    }
    SendJob(txn, *w, std::move(job));
    it = queue_.Erase(it);
  }
}

void Controller::Force(ForceArgs args, std::function<void(Status, int64_t)> done) {
  core_.Post([this, args = std::move(args), done = std::move(done)](Txn& txn) {
    int64_t id = 0;
    Status st = Enqueue(txn, args, &id);
    if (!st.ok()) return done(st, 0);
    txn.AfterCommit([done, id](const Status& st) { done(st, st.ok() ? id : 0); });
  });
}

Status Controller::Enqueue(Txn& txn, const ForceArgs& args, int64_t* id) {
  RequestRecord r;
  r.builder = args.builder;
  r.reason = args.reason.empty() ? "forced" : args.reason;
  r.properties = args.properties;
  GROVE_RETURN_IF_ERROR(Submit(txn, &r));
  *id = r.id;
  return Status::Ok();
}

void Controller::ForceBatch(std::vector<ForceArgs> batch,
                            std::function<void(Status, std::vector<int64_t>)> done) {
  core_.Post([this, batch = std::move(batch), done = std::move(done)](Txn& txn) mutable {
    std::vector<int64_t> ids;
    Status st = EnqueueBatch(txn, batch, "job", &ids);
    if (!st.ok()) return done(st, {});
    txn.AfterCommit([done = std::move(done), ids = std::move(ids)](const Status& st) mutable {
      done(st, st.ok() ? std::move(ids) : std::vector<int64_t>{});
    });
  });
}

Status Controller::EnqueueBatch(Txn& txn, const std::vector<ForceArgs>& batch, const char* noun,
                                std::vector<int64_t>* ids) {
  // Everything that can refuse the batch is checked before its first write.
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!config_->FindBuilder(batch[i].builder))
      return Status::NotFound(std::string(noun) + " " + std::to_string(i) +
                              ": no such builder: " + batch[i].builder);
  }
  std::vector<RequestRecord> rs(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    rs[i].builder = batch[i].builder;
    rs[i].reason = batch[i].reason.empty() ? "forced" : batch[i].reason;
    rs[i].properties = batch[i].properties;
    rs[i].priority = config_->FindBuilder(batch[i].builder)->priority;
  }
  if (ClaimsAtInsert(rs)) return EnqueueClaimed(txn, &rs, ids);
  if (Status st = txn.store().AddRequests(&rs); !st.ok()) {
    // Half a batch must not stay: the whole transaction goes (the other tasks in it are
    // retried or told, as after any failed write).
    txn.Fail(st);
    return st;
  }
  ids->clear();
  ids->reserve(rs.size());
  for (const RequestRecord& r : rs) {
    Queued(txn, r);
    ids->push_back(r.id);
  }
  Dispatch(txn);
  return Status::Ok();
}

Status Controller::Submit(Txn& txn, RequestRecord* r, const std::vector<int64_t>& changes) {
  if (const BuilderConfig* bc = config_->FindBuilder(r->builder)) {
    bool ran = false;
    GROVE_RETURN_IF_ERROR(RunAtOnce(txn, r, *bc, &ran));
    if (ran) {
      if (!changes.empty()) GROVE_RETURN_IF_ERROR(txn.store().LinkRequestChanges(r->id, changes));
      return Status::Ok();
    }
  }
  GROVE_RETURN_IF_ERROR(AddQueued(txn, r, changes));
  Dispatch(txn);
  return Status::Ok();
}

Status Controller::AddQueued(Txn& txn, RequestRecord* r, const std::vector<int64_t>& changes) {
  const BuilderConfig* bc = config_->FindBuilder(r->builder);
  if (!bc) return Status::NotFound("no such builder: " + r->builder);
  r->priority = bc->priority;
  GROVE_RETURN_IF_ERROR(txn.store().AddRequest(r));
  if (!changes.empty()) GROVE_RETURN_IF_ERROR(txn.store().LinkRequestChanges(r->id, changes));
  Queued(txn, *r);
  return Status::Ok();
}

void Controller::Queued(Txn& txn, const RequestRecord& r) {
  // The row is kept with its entry (its claim then needs no read of it) while the kept rows
  // fit their budget: a long queue of big requests costs no more memory than before.
  std::shared_ptr<const RequestRecord> fresh;
  if (r.attempt == 0 && *fresh_bytes_ < kFreshBytes) {
    const size_t size = 256 + r.reason.size() + JsonBytes(r.properties, kFreshRowBytes) +
                        JsonBytes(r.source, kFreshRowBytes);
    if (size <= kFreshRowBytes) {
      auto kept = std::make_shared<const KeptRow>(r, size, fresh_bytes_);
      fresh = std::shared_ptr<const RequestRecord>(kept, &kept->row);
    }
  }
  queue_.Add({r.id, r.priority, r.builder, std::move(fresh)});
  CollapseOlder(txn, r);
  if (Live(txn))
    Notify(txn, {{"type", "request"}, {"id", r.id}, {"builder", r.builder}, {"state", "queued"}});
}

void Controller::AnswerCommitted(Txn& txn, Json answer, std::function<void(Status, Json)> done) {
  txn.AfterCommit([answer = std::move(answer), done = std::move(done)](const Status& st) mutable {
    done(st, st.ok() ? std::move(answer) : Json());
  });
}

void Controller::DescribeWorkers(std::function<void(Status, Json)> done) {
  core_.Post([this, done = std::move(done)](Txn& txn) mutable {
    std::vector<WorkerRecord> known;
    (void)txn.store().ListWorkers(&known);
    std::map<std::string, WorkerRecord> by_name;
    for (auto& k : known) by_name[k.name] = k;
    std::map<std::string, Json> foreign = ForeignWorkers(txn, known);
    Json out = Json::array();
    for (const auto& wc : config_->workers) {
      Json j = {{"name", wc.name},      {"tags", wc.tags},  {"capacity", wc.capacity},
                {"connected", false},   {"paused", false},  {"running", Json::array()},
                {"last_seen", nullptr}, {"master", nullptr}};
      if (auto it = by_name.find(wc.name); it != by_name.end() && it->second.last_seen)
        j["last_seen"] = it->second.last_seen;
      if (auto f = foreign.find(wc.name); f != foreign.end()) {
        j["connected"] = true;
        j["master"] = f->second["master"];
        j["running"] = f->second["running"];
      }
      if (const ConnectedWorker* w = workers_.Find(wc.name)) {
        j["connected"] = true;
        j["master"] = master_;
        j["capacity"] = w->capacity;
        j["paused"] = w->paused;
        j["last_seen"] = w->last_seen;
        if (!w->os.empty()) j["os"] = w->os;
        for (const auto& key : w->running) {
          Json r = KeyJson(key);
          if (auto a = active_.find(key); a != active_.end()) {
            r["builder"] = a->second.builder;
            r["build"] = a->second.build_id;
          }
          j["running"].push_back(r);
        }
      }
      if (auto p = pools_.find(wc.name); p != pools_.end()) {
        j["on_demand"] = p->second->Describe(NowMs(), [this](const std::string& name, Json* ij) {
          const ConnectedWorker* w = workers_.Find(name);
          (*ij)["connected"] = w != nullptr;
          (*ij)["running"] = Json::array();
          if (!w) return;
          (*ij)["capacity"] = w->capacity;
          (*ij)["paused"] = w->paused;
          (*ij)["last_seen"] = w->last_seen;
          for (const auto& key : w->running) {
            Json r = KeyJson(key);
            if (auto a = active_.find(key); a != active_.end()) {
              r["builder"] = a->second.builder;
              r["build"] = a->second.build_id;
            }
            (*ij)["running"].push_back(r);
          }
        });
        // The declared worker is "connected" while one of its instances is.
        for (const auto& inst : j["on_demand"]["instances"])
          if (inst.value("connected", false)) j["connected"] = true;
      }
      out.push_back(j);
    }
    AnswerCommitted(txn, std::move(out), std::move(done));
  });
}

void Controller::DescribeQueue(std::function<void(Status, Json)> done) {
  core_.Post([this, done = std::move(done)](Txn& txn) mutable {
    Json queued = Json::array();
    for (const auto& q : queue_) {
      if (queued.size() >= 100) break;
      queued.push_back({{"request", q.id}, {"builder", q.builder}, {"priority", q.priority}});
    }
    Json j = {{"queued_count", queue_.size()},
              {"running_count", active_.size()},
              {"queued", queued},
              {"workers_connected", workers_.all().size()}};
    AnswerCommitted(txn, std::move(j), std::move(done));
  });
}

}  // namespace grove
