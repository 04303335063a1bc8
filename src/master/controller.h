// Controller: the master's decisions, all taken on the core loop's thread.
//
// It accepts workers, turns queued requests into jobs for workers that fit (the dispatcher),
// turns workers' events into stored builds, steps and logs (the tracker), and notices workers
// that vanish: their jobs are given a grace period to come back with a reconnect, then their
// builds are marked "retry" and their requests queued again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "broker/broker.h"
#include "config/config.h"
#include "master/core_loop.h"
#include "master/event_view.h"
#include "master/job_queue.h"
#include "master/worker_registry.h"
#include "metrics/master_metrics.h"
#include "pool/pool.h"

namespace boost::asio {
class io_context;
}

namespace grove {

namespace notify {
class NotifyService;
}
class EventHub;
class ArtifactTokens;

struct ControllerOptions {
  // How long the jobs of a disconnected worker wait for it to reconnect before they are
  // re-queued; also how long after a master start its workers have to come back.
  std::chrono::milliseconds worker_grace{5000};
  int max_attempts = 5;  // a request lost this many times is finished as an exception
};

struct ForceArgs {
  std::string builder;
  std::string reason;
  Json properties = Json::object();
};

class Controller : public BrokerListener {
 public:
  Controller(CoreLoop& core, boost::asio::io_context& net, std::shared_ptr<const Config> config,
             ControllerOptions opts);
  ~Controller() override;

  void SetBroker(Broker* broker) { broker_ = broker; }
  // Where committed changes are published for the web UI's live updates (may stay unset).
  void SetEventHub(EventHub* hub) { hub_ = hub; }
  // Makes the per-build artifact tokens put in every job (may stay unset: no token).
  void SetArtifactTokens(const ArtifactTokens* tokens) { artifact_tokens_ = tokens; }
  // Where build starts and ends are queued as notices (may stay unset: no notifiers).
  void SetNotices(notify::NotifyService* notices) { notices_ = notices; }
  // Loads the queue and the jobs that were running when the master stopped.
  void Recover();
  // Several masters on one store (controller_cluster.cc). Before Recover: this master's name,
  // recorded as the owner of what it claims.
  void SetMasterName(std::string name) { master_ = std::move(name); }
  // After each round of the cluster (any thread): the masters alive now (this one included),
  // and whether another master was seen recently.
  void SetPeers(std::set<std::string> live, bool others_recent);
  void Reconfigure(std::shared_ptr<const Config> config);
  // Distributed mode with several masters (controller_amqp.cc): one master at a time, the
  // holder of the "amqp-events" lease, applies workers' events. GateEventsOnLease (before the
  // core loop starts) makes this master start as a standby; SetEventsActive(true) makes it
  // take over: the queue and the running jobs are read again from the store. A standby keeps
  // no running jobs (it reaps no orphans) but still dispatches what is submitted through it.
  void GateEventsOnLease() { events_active_ = false; }
  void SetEventsActive(bool active);

  // BrokerListener: called on the network thread, handled on the core loop.
  void OnHello(ConnId conn, WorkerHello hello, std::function<void(Status)> reply) override;
  void OnMessages(ConnId conn, const std::string& worker, std::vector<Json> msgs) override;
  void OnEvents(ConnId conn, const std::string& worker, std::vector<WorkerEvent> events) override;
  void OnClosed(ConnId conn, const std::string& worker) override;
  void OnSubmission(Json msg, std::function<void(Status)> done) override;

  // Queues a build request; |done| receives the request id once it is durable.
  void Force(ForceArgs args, std::function<void(Status, int64_t)> done);
  // On the core thread: Force's work.
  Status Enqueue(Txn& txn, const ForceArgs& args, int64_t* id);
  // Queues several requests in one transaction, all or none (a batch: POST /api/v1/jobs
  // {"jobs": [...]}, a grove.submit array); |done| receives their ids in order once durable.
  void ForceBatch(std::vector<ForceArgs> batch,
                  std::function<void(Status, std::vector<int64_t>)> done);
  // On the core thread: ForceBatch's work. A store failure fails |txn| (nothing of the batch
  // is kept); |noun| names an element in messages ("job 3: ...").
  Status EnqueueBatch(Txn& txn, const std::vector<ForceArgs>& batch, const char* noun,
                      std::vector<int64_t>* ids);
  // On the core thread: stores |r| (builder, reason, properties, source) as a queued request
  // with |changes| linked to it, and dispatches. Sets r->id. Used by Force and the schedulers.
  Status Submit(Txn& txn, RequestRecord* r, const std::vector<int64_t>& changes = {});
  // Makes the per-job token put in every job (trigger steps authenticate with it).
  void SetJobTokenMaker(std::function<std::string(int64_t request, int attempt)> fn) {
    job_token_ = std::move(fn);
  }
  // The workers as the API shows them, as of a commit.
  void DescribeWorkers(std::function<void(Status, Json)> done);
  // Queue length and running jobs, for the home page and `grove status`, as of a commit.
  void DescribeQueue(std::function<void(Status, Json)> done);
  // On the core thread: the queue and the workers as metrics::QueueState (GET /metrics and
  // the home page's charts, controller_metrics.cc).
  void SnapshotQueue(std::function<void(const metrics::QueueState&)> done);

  // Queue control (controller_queue_control.cc). A queued request is finished as cancelled;
  // Conflict when it is no longer queued.
  void CancelRequest(int64_t request_id, std::function<void(Status)> done);
  // Asks the worker running |build_id| to cancel it (it kills the step's process tree and
  // finishes the job as cancelled). Conflict when the build is not running. Several masters:
  // a build running through another live master is stopped through it (the stop relay); then
  // |through| names that master and the build ends later.
  using StopDone = std::function<void(Status, const std::string& through)>;
  void StopBuild(int64_t build_id, StopDone done);
  // Several masters (cluster/live_events.h): how a stop is handed to another master by name,
  // and (distributed mode) which master holds the `amqp-events` lease ('' when unknown). Set
  // before the core loop starts; unset, a build running elsewhere is a Conflict as before.
  void SetStopRelay(std::function<void(int64_t build, const std::string& to)> relay,
                    std::function<std::string()> events_holder) {
    stop_relay_ = std::move(relay);
    events_holder_ = std::move(events_holder);
  }
  // A stop master |from| relayed here: as StopBuild, never relayed further (no ping-pong when
  // the build moved meanwhile); the outcome is logged.
  void StopRelayedBuild(int64_t build_id, const std::string& from);
  // A new request for the same builder, properties and source as |build_id|'s request.
  void Rebuild(int64_t build_id, const std::string& reason,
               std::function<void(Status, int64_t)> done);
  // A paused worker finishes what it runs and is given nothing new until resumed.
  void SetWorkerPaused(const std::string& worker, bool paused, std::function<void(Status)> done);

  // On-demand workers (controller_pool.cc). Where the instances' commands are told the master
  // (and the broker) are; set before Recover.
  void SetPoolEnvironment(pool::PoolEnv env) { pool_env_ = std::move(env); }
  // Several masters: only the holder of the `on-demand` lease runs the pools (the first round
  // of a lone master gains it at start). Gained: the instances are read from the store (adopted
  // when they connect, stopped when they do not); lost: this master forgets them.
  void SetPoolsActive(bool active);

 private:
  struct ActiveJob {
    std::string worker;
    std::string builder;
    int64_t build_id = 0;
    std::vector<std::string> secrets;  // values sent with the job: masked in what it reports
    std::vector<std::string> locks;    // lock keys held (controller_pipeline.cc)
    // A log chunk that did not come (step, seq): a resend was asked for it once; if it still
    // does not come, it is lost and the build ends as an exception.
    std::optional<std::pair<int, int64_t>> awaited_chunk;
    // The build's properties as stored (null until read): a step's report merges into these and
    // writes them, without reading the row first.
    Json properties;
    int64_t build_number = 0;
    // For the duration metrics (ms; 0 = not known, e.g. a job recovered after a restart).
    int64_t started_at = 0;
    int64_t step_started_at = 0;
    // Writes put off to the end of the core loop's batch (FlushDeferred, before its commit), so
    // that a job whose events run in one batch costs one write per row: the build's worker and
    // properties go with its end (FinishJobRows) or its step's start (StartStepWith), a step's
    // start with its end (RecordStep).
    bool build_dirty = false;                // job.worker / job.properties not stored yet
    std::optional<StepRecord> pending_step;  // started, not stored yet
    // The last step's end (index, result) when the job's end comes with it (a merged
    // job.finished): written with the build's and the request's (Store::FinishJobRows).
    std::optional<std::pair<int, Result>> ending_step;
    bool deferred = false;  // listed in deferred_
  };
  struct Orphan {
    std::string worker;
    int64_t deadline = 0;
  };

  void Dispatch(Txn& txn);
  // Answers |done| with |answer| once |txn| commits, or with the commit's error: memory, and
  // reads inside a batch, run ahead of the store until then, and an answer must not say a
  // build is over while the store still has it running.
  static void AnswerCommitted(Txn& txn, Json answer, std::function<void(Status, Json)> done);
  // Submit without the dispatch (a batch dispatches once, after its last request).
  Status AddQueued(Txn& txn, RequestRecord* r, const std::vector<int64_t>& changes = {});
  // Stored request |r| joins the queue (and collapses older ones of its builder).
  void Queued(Txn& txn, const RequestRecord& r);
  // Distributed mode (controller_amqp.cc): the broker routes jobs to tag queues; the worker
  // that runs a job is known from its first event (AdoptJob).
  void DispatchToQueues(Txn& txn);
  // A queued request to claim in a batch: its row when the queue entry kept it.
  struct ToClaim {
    int64_t id = 0;
    const BuilderConfig* bc = nullptr;
    std::shared_ptr<const RequestRecord> fresh;
  };
  // DispatchToQueues for queued requests whose builders take no lock (|batch|, in queue
  // order): claimed in one statement (those whose rows are kept without reading them back),
  // their builds numbered in one per builder, published in order.
  void ClaimBatchToQueues(Txn& txn, const std::vector<ToClaim>& batch);
  // A claimed request to start in distributed mode: its row, attempt and builder.
  struct ClaimedRow {
    const RequestRecord* row = nullptr;
    int attempt = 0;
    const BuilderConfig* bc = nullptr;
  };
  // The second half of ClaimBatchToQueues: |claimed|'s builds started (a statement per 32),
  // each job made and published after the commit, in |claimed|'s order.
  void StartClaimedToQueues(Txn& txn, int64_t now, const std::vector<ClaimedRow>& claimed);
  // EnqueueBatch in distributed mode when its requests would all be claimed by the Dispatch
  // that follows it (nothing queued before them, no lock, no pool, no collapse): inserted
  // claimed, one write per request fewer. False when the batch must take the queue's way.
  bool ClaimsAtInsert(const std::vector<RequestRecord>& rs) const;
  Status EnqueueClaimed(Txn& txn, std::vector<RequestRecord>* rs, std::vector<int64_t>* ids);
  // False for a consumer builder (its one consume step neither calls the API, as a trigger step
  // does with the job's api_token, nor the artifact store, as upload and download steps do with
  // its token): its jobs carry no token, two HMACs and about 150 bytes per job fewer.
  static bool StepsUseTokens(const BuilderConfig& bc);
  // After a claim in distributed mode: |job| is published once |txn| commits; a standby drops
  // it from memory (the master applying events loads it from the store). |job|'s steps are
  // not read: they are |bc|'s (StepsTextOf).
  void PublishClaimed(Txn& txn, const BuilderConfig& bc, const JobSpec& job);
  // The JSON text of |bc|'s steps, made once per builder and configuration.
  const std::string& StepsTextOf(const BuilderConfig& bc);
  std::map<std::string, std::string> steps_text_;  // builder -> StepsText; cleared by reconfig
  // Claims queued request |request_id| for |worker| ("" when the broker chooses), allocates its
  // build and fills |job|. False when the claim failed (the caller drops it from the queue).
  // |fresh|: the request's row as inserted, when its queue entry kept it (Queued).
  bool ClaimJob(Txn& txn, int64_t request_id, const BuilderConfig& bc, const std::string& worker,
                JobSpec* job, const RequestRecord* fresh = nullptr);
  // ClaimJob's store work for a request at its first attempt whose row is known: the claim and
  // the build in one store call. False, with nothing changed, when it is not queued at attempt 0.
  bool ClaimFresh(Txn& txn, const RequestRecord& fresh, const BuilderConfig& bc,
                  const std::string& worker, RequestRecord* claimed, BuildRecord* build);
  // A request that can run at once (Submit): nothing waits in the queue, its builder takes no
  // lock and a worker is free. Inserted claimed, with its build, and its job sent after the
  // commit (*ran true); *ran false, with nothing written, when it must be queued (AddQueued).
  Status RunAtOnce(Txn& txn, RequestRecord* r, const BuilderConfig& bc, bool* ran);
  // What follows a claim (ClaimJob, RunAtOnce): the job is active on |worker| and |job| made;
  // |build| is the build started with the claim (id 0: none yet).
  void Claimed(Txn& txn, const BuilderConfig& bc, const std::string& worker, RequestRecord& req,
               BuildRecord& build, JobSpec* job);
  // |job| runs on |w|: sent once |txn| commits.
  void SendJob(Txn& txn, ConnectedWorker& w, JobSpec job);
  // The usual claim: the request's row comes back with it. False when it was not claimed.
  bool ClaimQueued(Txn& txn, int64_t request_id, const std::string& worker, RequestRecord* req);
  // A build was stored as running for |job|: the job remembers it and it is announced.
  void BuildStarted(Txn& txn, ActiveJob& job, BuildRecord& b, int64_t request);
  // |properties|: more build properties to store in the same update (job.started's builddir);
  // false when the job has no build yet to store them in.
  // The job a worker gets for |key| (also run again at recovery: the build, the secrets).
  // |claimed|: the request's row when the caller has it (the claim returns it).
  // |with_steps| false: job->steps stays empty (PublishClaimed writes |bc|'s from StepsTextOf).
  void MakeJob(Txn& txn, const JobKey& key, ActiveJob& active, const BuilderConfig& bc,
               JobSpec* job, const RequestRecord* claimed = nullptr, bool with_steps = true);
  // |defer|: the build's worker and properties are written at the end of the batch of events
  // (FlushDeferred) rather than now.
  bool AdoptJob(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                const Json& properties = Json::object(), bool defer = false);
  // Distributed mode: a job this master does not have in memory (claimed through another
  // master) read from the store; active_.end() when the request is not claimed as |key|.
  std::map<JobKey, ActiveJob>::iterator LoadClaimedJob(Txn& txn, const JobKey& key);
  // Distributed mode: the id before the first event of |w| still to apply, |id| being the
  // first that came on its connection: what the store says was applied (by this master or the
  // one before it), else id - 1.
  int64_t FirstUnapplied(Txn& txn, ConnectedWorker& w, int64_t id);
  // Distributed mode: records |w|'s applied events in |txn|; a conflict (another master applied
  // them) fails the batch.
  void RecordAppliedEvents(Txn& txn, ConnectedWorker& w);
  // A standby keeps no jobs, orphans, locks nor workers (the active master has them).
  void ForgetJobs();
  bool Distributed() const { return broker_ && broker_->RoutesJobs(); }
  // Ok when the event is applied (or refused for good: it is acknowledged all the same); an
  // error when it was not and must come again (the store failed, a log chunk is missing).
  Status HandleEvent(Txn& txn, ConnectedWorker& w, const Json& ev);
  Status HandleEvent(Txn& txn, ConnectedWorker& w, const WorkerEvent& ev);
  // |tree|: the event's JSON when it came as a tree (a log chunk's data is read from it).
  Status HandleEvent(Txn& txn, ConnectedWorker& w, const EventView& e, const Json* tree);
  // OnMessages' and OnEvents' work on the core loop: |Msg| is Json or WorkerEvent.
  template <typename Msg>
  void ApplyEvents(Txn& txn, ConnId conn, const std::string& worker, std::vector<Msg>& msgs);
  // The parts of an event (a merged one has two, docs/protocol.md). A step's start is kept in
  // the job (pending_step) until its end or the end of the batch; a step's end is not applied
  // (|*applied| false, the status says why) when log chunks are missing.
  void StartStepOf(Txn& txn, const JobKey& key, ActiveJob& job, const std::string& worker,
                   const EventView& e, int64_t now);
  // |batch|: a step started in this batch is stored with the batch's other ends (FlushEnds).
  Status FinishStepOf(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                      const EventView& e, std::string_view result, int64_t now, bool* applied,
                      bool batch = false);
  // Deferred writes (ActiveJob::build_dirty, pending_step): |job| is listed for FlushDeferred;
  // WriteDeferred stores what |job| has pending now (before anything that reads those rows).
  void Defer(const JobKey& key, ActiveJob& job);
  void WriteDeferred(Txn& txn, ActiveJob& job);
  void FlushDeferred(Txn& txn);
  // Step |step| of |job| has |next| log chunks stored but the worker reports (or sends) chunk
  // |got|: the first time a resend is asked (an error is returned), then the build ends as an
  // exception with a note in the step's log.
  Status MissingLogChunks(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job, int step,
                          int64_t next, int64_t got);
  // Asks |w| to send its events again from the first one not applied (docs/protocol.md).
  void RequestResend(ConnectedWorker& w);
  // Event |id| came while an earlier one is still missing, for a long time: true when the
  // missing ones are given up (RabbitMQ), false to keep waiting (a worker is reconnected).
  bool GiveUpWaiting(ConnectedWorker& w, int64_t id, int64_t now);
  // The core loop rolled a batch back: the queue, the jobs, the workers' running sets, the
  // locks and the orphans are re-derived from the store, and the workers asked to resend.
  // |takeover|: the same on taking over the events from another master (SetEventsActive).
  Status ReloadAfterRollback(Store& store, bool takeover = false);
  // The values of the secrets |bc|'s steps name (masked in what its jobs report).
  std::map<std::string, std::string> JobSecrets(const BuilderConfig& bc) const;
  // |req|: the request's row when the caller has it (else it is read).
  int64_t EnsureBuild(Txn& txn, const JobKey& key, ActiveJob& job, const std::string& worker,
                      const RequestRecord* req = nullptr);
  // What a build starts with: the builder's properties, the request's over them, the change's
  // where neither sets them, buildername and workername (buildnumber, buildid: the store's).
  Json StartingProperties(const std::string& builder, const RequestRecord& req,
                          const std::string& worker) const;
  // |batch|: the build's and the request's ends are written with the other ends of the batch
  // of events (FlushEnds), several rows per statement.
  void FinishJob(Txn& txn, const JobKey& key, Result result, bool batch = false);
  // The ends a batch of events collected (FinishJob and FinishStepOf with |batch|): jobs that
  // left active_, whose rows nothing else in the batch reads (LoadClaimedJob, a log chunk and
  // a rollback see to it). Written by FlushEnds, at the end of the batch (FlushDeferred).
  struct BatchedEnds {
    std::vector<StepRecord> steps;
    std::set<std::pair<int64_t, int>> step_keys;  // (build, idx) in |steps|
    std::vector<Store::StepEnd> step_ends;        // last steps started in an earlier batch
    std::vector<Store::BuildEnd> builds;          // each with its request
    bool empty() const { return steps.empty() && step_ends.empty() && builds.empty(); }
  };
  BatchedEnds ends_;
  void FlushEnds(Txn& txn);
  // The job's worker is gone for good: its build becomes "retry", its request queued again.
  void LoseJob(Txn& txn, const JobKey& key, const std::string& why);
  void ReapOrphans(Txn& txn);
  void ScheduleReap(std::chrono::milliseconds delay);
  void SendCancel(ConnId conn, const JobKey& key);
  // Publishes |event| to the EventHub once |txn| is committed.
  void Notify(Txn& txn, Json event);
  // Whether the events only pages read ("request", "step", "log") are worth making: false when
  // no page nor other master listens (then, should a page subscribe before |txn| commits, it
  // is told to read its data again after the commit).
  bool Live(Txn& txn);
  bool resync_armed_ = false;  // Live registered its after-commit check in the open transaction
  // The events of the open transaction, published after its commit (Notify). Core thread.
  std::vector<Json> pending_events_;
  // Queues the notifiers' notices about |build_id| ("started" | "finished") in |txn|, the
  // transaction that records the event itself (controller_notify.cc).
  void QueueNotices(Txn& txn, int64_t build_id, const char* event);
  // A build of |request| was stored as running: its "started" notices and the live event.
  void AnnounceBuildStarted(Txn& txn, const BuildRecord& b, int64_t request);

  // Pipelines (controller_pipeline.cc): build properties, secrets and the artifact token put in
  // a job at dispatch (the build is allocated then, so buildnumber is known); what step.finished
  // reports (properties, tests); secret masking of logs; locks; collapse.
  void PrepareJob(Txn& txn, const JobKey& key, ActiveJob& job, const BuilderConfig& bc,
                  const RequestRecord& req, JobSpec* spec);
  // What a step's end reports besides its result (properties: written with the build's next
  // write, deferred; tests). Its result_json is stored with the step's end.
  void HandleStepReport(Txn& txn, const JobKey& key, ActiveJob& job, const EventView& e);
  // |j| with the job's secrets masked in every string.
  Json MaskJob(const ActiveJob& job, const Json& j) const;
  // Merges |props| (masked) into job.properties, reading them first if not yet known; false
  // when they cannot be read (then nothing is to be written).
  bool MergeProperties(Txn& txn, ActiveJob& job, const Json& props);
  std::string MaskLog(const ActiveJob& job, std::string data) const;
  Status AppendLogEvent(Store& store, const ActiveJob& job, int64_t build_id, int step, int64_t seq,
                        const Json& ev);
  bool LocksFree(const BuilderConfig& bc, const std::string& worker) const;
  // Like WorkerRegistry::PickFor, among the workers where every lock of |bc| has a free slot.
  ConnectedWorker* PickWithFreeLocks(const BuilderConfig& bc);
  void TakeLocks(const BuilderConfig& bc, const std::string& worker, ActiveJob& job);
  void ReleaseLocks(ActiveJob& job);
  void CollapseOlder(Txn& txn, const RequestRecord& newer);

  // Several masters (controller_cluster.cc).
  // The claimed requests another master owns, which this one leaves alone; with |take_dead|,
  // those of masters not alive are made this master's first (and so not in the answer).
  Status ForeignClaims(Store& store, bool take_dead, std::set<int64_t>* out);
  // Claimed request |r| becomes one of this master's active jobs (as at recovery): its build,
  // its secrets, its locks.
  ActiveJob& LoadClaimed(Txn& txn, const RequestRecord& r);
  // A worker says hello with job |key| this master does not know: it is adopted when the store
  // says the worker runs that attempt (its master died, or the worker moved to this one).
  void AdoptFromStore(Txn& txn, const std::string& worker, const JobKey& key);
  // The running jobs of masters gone: made this master's, orphans until their workers come.
  void TakeOverDeadMasters(Txn& txn);
  // At recovery: the configured workers recorded, disconnected unless a live other master
  // holds them (its workers did not lose their connection when this master restarted).
  void ResetWorkers(Txn& txn);
  // The workers of |known| (the store's) connected to another live master, by name:
  // {"master": its name, "running": the claimed requests the store says they run}.
  std::map<std::string, Json> ForeignWorkers(Txn& txn, const std::vector<WorkerRecord>& known);
  // False when |key| is no longer this master's (another adopted it): then it is only dropped.
  bool StillOwned(Txn& txn, const JobKey& key);
  // The queue again from the store: requests made through the other masters are dispatched
  // here too when a worker of this master fits (docs/operations.md, "Running several masters").
  void PollQueue(Txn& txn);
  void SchedulePoll();
  // On-demand workers (controller_pool.cc): the pools follow the config; each tick builds a
  // snapshot (requests waiting, instances connected), lets the pools decide, records the
  // instances in the store and runs the commands after the commit.
  void ReconfigurePools();
  void RecoverPools(Txn& txn);
  void PoolTick(Txn& txn);
  // Asks for a PoolTick soon (coalesced): called when requests may wait.
  void KickPools();
  void SchedulePoolTimer();
  // Requests that wait for each pool (by name): queued, fit by the pool's worker and by no
  // connected worker with room; each counted for the first pool that fits it.
  std::map<std::string, int> PoolDemand();
  void RunPoolActions(Txn& txn, pool::Pool& p, const std::vector<pool::Action>& actions);
  void OnPoolCommandDone(const std::string& pool, const pool::Action& a, pool::CommandOutcome out);
  // Ok when |name| may connect: a declared worker, or an instance its pool started.
  Status AdmitPoolInstance(const WorkerConfig& wc, const std::string& name) const;
  // Applies the pools' instance states to the connected workers (draining) and the store.
  void SyncPoolInstances(Txn& txn, pool::Pool& p);

  CoreLoop& core_;
  boost::asio::io_context& net_;
  std::shared_ptr<const Config> config_;
  ControllerOptions opts_;
  Broker* broker_ = nullptr;
  EventHub* hub_ = nullptr;
  const ArtifactTokens* artifact_tokens_ = nullptr;
  notify::NotifyService* notices_ = nullptr;
  std::map<std::string, int> lock_counts_;  // "master:NAME" / "worker:W:NAME" → holders
  std::function<std::string(int64_t, int)> job_token_;

  WorkerRegistry workers_;
  JobQueue queue_;
  // The bytes held by the queue entries that keep their request's row (Queued). Core thread;
  // shared with the rows, which count themselves out when their entry goes.
  std::shared_ptr<size_t> fresh_bytes_ = std::make_shared<size_t>(0);
  std::map<JobKey, ActiveJob> active_;
  std::map<JobKey, Orphan> orphans_;
  // The ack each connection gets after the open batch's commit (OnMessages): its last event
  // applied in the batch.
  std::map<ConnId, int64_t> batch_acks_;
  // The jobs with deferred writes in the batch of events being applied (OnMessages).
  std::vector<JobKey> deferred_;
  // StopBuild's work; |may_relay| false for a stop another master relayed.
  void StopBuildIn(Txn& txn, int64_t build_id, bool may_relay, const StopDone& done);
  // The live master, other than this one, that can stop running build |b| ('' when none).
  std::string StopThrough(Txn& txn, const BuildRecord& b);
  std::function<void(int64_t, const std::string&)> stop_relay_;
  std::function<std::string()> events_holder_;
  std::string master_;                  // this master's name ('' in tests: it owns everything)
  std::set<std::string> live_masters_;  // core thread
  bool several_ = false;                // another master is alive: the queue is polled
  bool polling_ = false;                // a poll is scheduled
  int64_t last_poll_ = 0;
  std::atomic<bool> peers_seen_{false};  // another master was seen (set on the cluster's thread)
  std::shared_ptr<std::atomic<bool>> alive_;
  bool events_active_ = true;  // see GateEventsOnLease

  pool::PoolEnv pool_env_;
  bool pools_active_ = false;  // holds the `on-demand` lease
  std::map<std::string, std::unique_ptr<pool::Pool>> pools_;
  std::map<std::string, std::string> pool_stored_;  // instance → state in the store
  bool pool_kick_pending_ = false;
  // Distributed mode: the jobs ready in RabbitMQ for each pool, as last read (PoolDemand).
  std::map<std::string, int> pool_depths_;
  bool pool_depth_read_pending_ = false;
  // Distributed mode: asks the broker for the depth of the queues each pool serves.
  void ReadPoolDepths();
  bool pool_timer_started_ = false;
  // Last: destroyed first, joining the command threads while the rest is still whole.
  std::unique_ptr<pool::CommandRunner> pool_runner_;
};

}  // namespace grove
