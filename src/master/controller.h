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

#include "broker/broker.h"
#include "config/config.h"
#include "master/core_loop.h"
#include "master/job_queue.h"
#include "master/worker_registry.h"

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
  void Reconfigure(std::shared_ptr<const Config> config);

  // BrokerListener: called on the network thread, handled on the core loop.
  void OnHello(ConnId conn, WorkerHello hello, std::function<void(Status)> reply) override;
  void OnMessages(ConnId conn, const std::string& worker, std::vector<Json> msgs) override;
  void OnClosed(ConnId conn, const std::string& worker) override;
  void OnSubmission(Json msg, std::function<void(Status)> done) override;

  // Queues a build request; |done| receives the request id once it is durable.
  void Force(ForceArgs args, std::function<void(Status, int64_t)> done);
  // On the core thread: Force's work.
  Status Enqueue(Txn& txn, const ForceArgs& args, int64_t* id);
  // On the core thread: stores |r| (builder, reason, properties, source) as a queued request
  // with |changes| linked to it, and dispatches. Sets r->id. Used by Force and the schedulers.
  Status Submit(Txn& txn, RequestRecord* r, const std::vector<int64_t>& changes = {});
  // Makes the per-job token put in every job (trigger steps authenticate with it).
  void SetJobTokenMaker(std::function<std::string(int64_t request, int attempt)> fn) {
    job_token_ = std::move(fn);
  }
  // The workers as the API shows them.
  void DescribeWorkers(std::function<void(Json)> done);
  // Queue length and running jobs, for the home page and `grove status`.
  void DescribeQueue(std::function<void(Json)> done);

  // Queue control (controller_queue_control.cc). A queued request is finished as cancelled;
  // Conflict when it is no longer queued.
  void CancelRequest(int64_t request_id, std::function<void(Status)> done);
  // Asks the worker running |build_id| to cancel it (it kills the step's process tree and
  // finishes the job as cancelled). Conflict when the build is not running.
  void StopBuild(int64_t build_id, std::function<void(Status)> done);
  // A new request for the same builder, properties and source as |build_id|'s request.
  void Rebuild(int64_t build_id, const std::string& reason,
               std::function<void(Status, int64_t)> done);
  // A paused worker finishes what it runs and is given nothing new until resumed.
  void SetWorkerPaused(const std::string& worker, bool paused, std::function<void(Status)> done);

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
  };
  struct Orphan {
    std::string worker;
    int64_t deadline = 0;
  };

  void Dispatch(Txn& txn);
  // Distributed mode (controller_amqp.cc): the broker routes jobs to tag queues; the worker
  // that runs a job is known from its first event (AdoptJob).
  void DispatchToQueues(Txn& txn);
  // Claims queued request |request_id| for |worker| ("" when the broker chooses), allocates its
  // build and fills |job|. False when the claim failed (the caller drops it from the queue).
  bool ClaimJob(Txn& txn, int64_t request_id, const BuilderConfig& bc, const std::string& worker,
                JobSpec* job);
  // |properties|: more build properties to store in the same update (job.started's builddir);
  // false when the job has no build yet to store them in.
  // The job a worker gets for |key| (also run again at recovery: the build, the secrets).
  void MakeJob(Txn& txn, const JobKey& key, ActiveJob& active, const BuilderConfig& bc,
               JobSpec* job);
  bool AdoptJob(Txn& txn, ConnectedWorker& w, const JobKey& key, ActiveJob& job,
                const Json& properties = Json::object());
  // Ok when the event is applied (or refused for good: it is acknowledged all the same); an
  // error when it was not and must come again (the store failed, a log chunk is missing).
  Status HandleEvent(Txn& txn, ConnectedWorker& w, const Json& ev);
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
  Status ReloadAfterRollback(Store& store);
  // The values of the secrets |bc|'s steps name (masked in what its jobs report).
  std::map<std::string, std::string> JobSecrets(const BuilderConfig& bc) const;
  int64_t EnsureBuild(Txn& txn, const JobKey& key, ActiveJob& job, const std::string& worker);
  void FinishJob(Txn& txn, const JobKey& key, Result result);
  // The job's worker is gone for good: its build becomes "retry", its request queued again.
  void LoseJob(Txn& txn, const JobKey& key, const std::string& why);
  void ReapOrphans(Txn& txn);
  void ScheduleReap(std::chrono::milliseconds delay);
  void SendCancel(ConnId conn, const JobKey& key);
  // Publishes |event| to the EventHub once |txn| is committed.
  void Notify(Txn& txn, Json event);
  // Queues the notifiers' notices about |build_id| ("started" | "finished") in |txn|, the
  // transaction that records the event itself (controller_notify.cc).
  void QueueNotices(Txn& txn, int64_t build_id, const char* event);

  // Pipelines (controller_pipeline.cc): build properties, secrets and the artifact token put in
  // a job at dispatch (the build is allocated then, so buildnumber is known); what step.finished
  // reports (properties, tests); secret masking of logs; locks; collapse.
  void PrepareJob(Txn& txn, const JobKey& key, ActiveJob& job, const BuilderConfig& bc,
                  const RequestRecord& req, JobSpec* spec);
  void HandleStepReport(Txn& txn, ActiveJob& job, const Json& ev);
  std::string MaskLog(const ActiveJob& job, std::string data) const;
  Status AppendLogEvent(Store& store, const ActiveJob& job, int64_t build_id, int step, int64_t seq,
                        const Json& ev);
  bool LocksFree(const BuilderConfig& bc, const std::string& worker) const;
  // Like WorkerRegistry::PickFor, among the workers where every lock of |bc| has a free slot.
  ConnectedWorker* PickWithFreeLocks(const BuilderConfig& bc);
  void TakeLocks(const BuilderConfig& bc, const std::string& worker, ActiveJob& job);
  void ReleaseLocks(ActiveJob& job);
  void CollapseOlder(Txn& txn, const RequestRecord& newer);

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
  std::map<JobKey, ActiveJob> active_;
  std::map<JobKey, Orphan> orphans_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace grove
