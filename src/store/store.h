// Store: Grove's persistent state behind one interface (DESIGN.md, "Store").
//
// A Store object is used by one thread at a time; open one per thread (SQLite in WAL mode
// lets readers run beside the single writer). Timestamps are milliseconds since the epoch.
// Writes made between Begin() and Commit() are one transaction: the master groups many
// events into one commit instead of paying one fsync per event.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"
#include "core/result.h"
#include "core/status.h"

namespace grove {

struct RequestRecord {
  int64_t id = 0;
  std::string builder;
  std::string reason;
  Json properties = Json::object();
  Json source = Json::object();
  std::string state;  // "queued" | "claimed" | "finished" | "cancelled"
  int attempt = 0;    // attempts handed out so far
  int priority = 0;
  std::string worker;  // worker of the current attempt while claimed
  int result = -1;     // a Result once finished, else -1
  int64_t submitted_at = 0;
  int64_t claimed_at = 0;
  int64_t finished_at = 0;
};

// A request claimed and running, as the masters sharing the store see it (issue 10).
struct ClaimedRequest {
  int64_t id = 0;
  int attempt = 0;
  std::string worker;
  std::string master;  // the master that owns its running attempt ('' before schema 8)
};

struct BuildRecord {
  int64_t id = 0;
  int64_t request_id = 0;
  int attempt = 0;
  std::string builder;
  int64_t number = 0;  // per builder, 1, 2, 3...
  std::string worker;
  std::string state;  // "running" | "finished"
  int result = -1;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  Json properties = Json::object();
};

struct StepRecord {
  int64_t build_id = 0;
  int idx = 0;
  std::string name;
  std::string state;  // "running" | "finished"
  int result = -1;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int64_t log_bytes = 0;
  int64_t log_lines = 0;
  Json result_json;  // a consume step's result (docs/protocol.md); null when it has none
};

struct WorkerRecord {
  std::string name;
  Json tags = Json::array();
  int capacity = 1;
  bool connected = false;
  bool paused = false;
  int64_t last_seen = 0;
  std::string master;  // the master it is connected to ('' when none)
};

// An instance of an on-demand worker (src/pool) the master started and has not stopped yet:
// kept so that a restarted master finds it again instead of starting a duplicate.
struct PoolInstanceRecord {
  std::string name;      // "burst-3"
  std::string pool;      // the declared worker: "burst"
  std::string instance;  // unique id, given to the commands as GROVE_INSTANCE
  std::string state;     // "starting" | "connected" | "stopping"
  int64_t started_at = 0;
  int64_t updated_at = 0;
};

// A commit (or a push) seen by a change source (git poller or webhook).
struct ChangeRecord {
  int64_t id = 0;
  std::string source;      // the change source: "git:URL", "github", "gitlab", ...
  std::string repository;  // as configured in git { url = ... } when one matches
  std::string branch;
  std::string revision;
  std::string author;        // "Name <email>"
  int64_t committed_at = 0;  // committer time, ms
  std::string comments;      // the commit message
  std::vector<std::string> files;
  int64_t created_at = 0;  // when Grove saw it (set by AddChange when 0)
};

// What a scheduler or poller keeps across restarts.
struct SchedulerState {
  int64_t last_fire = 0;  // seconds since the epoch of the last slot fired (cron, periodic)
  Json data = Json::object();
};

// A file a build uploaded to the master's artifact store (state/artifacts/<build>/<path>).
struct ArtifactRecord {
  int64_t build_id = 0;
  std::string path;  // relative, '/'-separated, checked (no "..", not absolute)
  int64_t size = 0;
  std::string sha256;  // hex
  int64_t created_at = 0;
};

// The JUnit results a test step reported (core/junit.h's JSON).
struct StepTestsRecord {
  int idx = 0;
  Json tests = Json::object();
};

// One notice of one notifier about one build (issue 11): the durable outbox row. Written in the
// transaction that starts or finishes the build, then delivered beside the core loop.
struct NotificationRecord {
  int64_t id = 0;
  int64_t build_id = 0;
  std::string notifier;  // the notifier's name in grove.lua
  std::string kind;      // "email" | "irc" | "webhook" | "status"
  std::string event;     // "started" | "finished"
  // "pending" (never tried) | "sending" (handed to the notifier: outcome unknown until its
  // answer is stored) | "retrying" | "sent" | "failed" | "superseded" (a start notice that
  // the build's end made pointless)
  std::string state;
  int attempts = 0;
  int64_t next_at = 0;  // retrying: not before this time
  std::string answer;   // the server's last answer (or why it could not be reached)
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t sent_at = 0;
};

// The end of a job, written in one call (Store::FinishJobRows): its last step's end when |step|
// is not negative, its build's (with the worker and properties when |worker| is set), and its
// request's.
struct JobEnd {
  int64_t build_id = 0;  // 0: no build (only the request ends)
  int64_t request_id = 0;
  Result result = Result::kException;
  int64_t now = 0;
  int step = -1;
  Result step_result = Result::kException;
  const std::string* worker = nullptr;  // with |properties|: FinishBuildWith's write
  const Json* properties = nullptr;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  // Ok while the transaction Begin() opened can still commit; else why it cannot (the disk
  // is full, an I/O error): then every call fails until Rollback, and Commit fails. A refused
  // write (NotFound, Conflict, ...) does not doom the transaction.
  virtual Status TransactionStatus() const = 0;

  // Build requests. AddRequest sets id, state "queued" and submitted_at (when 0).
  virtual Status AddRequest(RequestRecord* r) = 0;
  // AddRequest for each of |rs|, several rows per statement (a batch of submissions); ids are
  // given in the order of |rs|.
  virtual Status AddRequests(std::vector<RequestRecord>* rs);
  virtual Status GetRequest(int64_t id, RequestRecord* out) = 0;
  // Requests in |state|; "queued" ones come by priority (highest first), then id.
  virtual Status ListRequests(const std::string& state, int limit,
                              std::vector<RequestRecord>* out) = 0;
  // queued → claimed by |worker|, attempt incremented and returned. Conflict if not queued.
  virtual Status ClaimRequest(int64_t id, const std::string& worker, int64_t now, int* attempt) = 0;
  // The same, filling |claimed| with the claimed row (attempt incremented) in one statement.
  virtual Status ClaimRequestRecord(int64_t id, const std::string& worker, int64_t now,
                                    RequestRecord* claimed);
  // ClaimRequestRecord for several queued requests at once (a batch of submissions): one
  // statement instead of one per request. |claimed| gets the rows claimed now, in no particular
  // order; an id that was not queued (another master took it) is left out, not an error.
  virtual Status ClaimRequestRecords(const std::vector<int64_t>& ids, const std::string& worker,
                                     int64_t now, std::vector<RequestRecord>* claimed);
  // A request never claimed before (queued, attempt 0) claimed for |worker| and its first build
  // started, for a caller that knows the request's row (it inserted it): |b| comes with
  // request_id, builder, worker, started_at and properties; attempt (1), number, id and state
  // are set here. Conflict, with nothing changed, when the request is not queued at attempt 0
  // (the caller then claims it with ClaimRequestRecord). Claimed but with no build started
  // (unexpected), b->id is 0. PostgreSQL: one statement.
  virtual Status ClaimFreshRequest(int64_t now, BuildRecord* b);
  // AddRequest and ClaimFreshRequest in one call, for a request that runs at once (its worker is
  // free): |r| is inserted claimed by b->worker at attempt 1 (r->state, attempt, worker,
  // claimed_at set here, r->id too), and its build started as ClaimFreshRequest starts it (b->id
  // 0 when it could not start). SQLite: the claim costs no write of its own; PostgreSQL: one
  // statement for the request, its number and its build.
  virtual Status AddClaimedRequest(int64_t now, RequestRecord* r, BuildRecord* b);
  // AddRequests for a batch its caller claims in the same transaction (distributed mode: no
  // worker to wait for): each is inserted claimed by |worker| at attempt 1 (state, attempt,
  // worker, claimed_at and id set here), one write per request fewer than queued then claimed.
  virtual Status AddClaimedRequests(int64_t now, const std::string& worker,
                                    std::vector<RequestRecord>* rs);
  // ClaimRequestRecords for requests the caller has the rows of (it inserted them): only those
  // queued at attempt 0 are claimed (attempt 1), and only their ids come back (in |claimed|, in
  // no particular order), so that no row is read back. The others are left as they are.
  virtual Status ClaimFreshRequests(const std::vector<int64_t>& ids, const std::string& worker,
                                    int64_t now, std::vector<int64_t>* claimed);
  // claimed → queued (the attempt failed for reasons outside the build, e.g. a lost worker).
  virtual Status RequeueRequest(int64_t id) = 0;
  virtual Status FinishRequest(int64_t id, Result result, int64_t now) = 0;

  // Builds. StartBuild is idempotent on (request_id, attempt): a second call fills |b| with the
  // existing build (id, number, ...) and changes nothing. Numbers are allocated per builder.
  virtual Status StartBuild(BuildRecord* b) = 0;
  // StartBuild for each of |builds|, the numbers of each builder taken in one statement. One
  // that cannot start is left with id 0 (its caller may try StartBuild alone); an attempt that
  // had a build already gets it as StartBuild does, its number then left unused (a gap).
  virtual Status StartBuilds(std::vector<BuildRecord>* builds);
  virtual Status FinishBuild(int64_t build_id, Result result, int64_t now) = 0;
  // Distributed mode: the worker of a build is known only from its first event.
  virtual Status SetBuildWorker(int64_t build_id, const std::string& worker) = 0;
  virtual Status GetBuild(int64_t id, BuildRecord* out) = 0;
  virtual Status FindBuild(int64_t request_id, int attempt, BuildRecord* out) = 0;
  // Newest first; |before_number| 0 means from the newest.
  virtual Status ListBuilds(const std::string& builder, int64_t before_number, int limit,
                            std::vector<BuildRecord>* out) = 0;
  virtual Status BuildsOfRequest(int64_t request_id, std::vector<BuildRecord>* out) = 0;
  virtual Status RunningBuilds(std::vector<BuildRecord>* out) = 0;
  // The last |per_builder| builds of every builder (newest first within a builder; properties left
  // empty), in one statement: the home page of a master with thousands of builders.
  virtual Status LastBuildsPerBuilder(int per_builder, std::vector<BuildRecord>* out) = 0;

  // Steps. StartStep is idempotent on (build_id, idx).
  virtual Status StartStep(const StepRecord& s) = 0;
  virtual Status FinishStep(int64_t build_id, int idx, Result result, int64_t now) = 0;
  virtual Status ListSteps(int64_t build_id, std::vector<StepRecord>* out) = 0;

  // Logs. Chunks arrive with a per-step sequence number from 0; a chunk whose seq is already
  // stored is ignored (redelivery), one that is not the next (a gap before it) is refused with
  // Conflict and not stored. Chunks are stored zstd-compressed with their byte and line
  // offsets, so ReadLog decompresses only the chunks it returns.
  virtual Status AppendLog(int64_t build_id, int idx, int64_t seq, std::string_view data) = 0;
  // The same for a chunk the worker compressed (a binary log frame, core/log_frame.h): |zdata|
  // is one zstd frame of |raw_size| bytes with |lines| newlines, checked by the caller, and is
  // stored as it is (no second compression on the master).
  virtual Status AppendCompressedLog(int64_t build_id, int idx, int64_t seq, std::string_view zdata,
                                     int64_t raw_size, int64_t lines) = 0;
  // The seq the step's log expects next (the number of chunks stored, empty ones included).
  virtual Status NextLogSeq(int64_t build_id, int idx, int64_t* next) = 0;
  // Up to |max_bytes| of the log from byte |offset|; |total| receives the log's size.
  virtual Status ReadLog(int64_t build_id, int idx, int64_t offset, int64_t max_bytes,
                         std::string* out, int64_t* total) = 0;

  // Workers known to the master (configured or seen).
  virtual Status UpsertWorker(const WorkerRecord& w) = 0;
  virtual Status ListWorkers(std::vector<WorkerRecord>* out) = 0;
  // Records worker |name| disconnected at |last_seen|, only while master |master| holds it: a
  // worker that reconnected to another master meanwhile stays that master's.
  virtual Status ReleaseWorker(const std::string& name, const std::string& master,
                               int64_t last_seen) = 0;
  // A starting master's record of configured worker |w| (its tags and capacity, inserted if
  // new), disconnected unless another master than |self|, alive since |live_since| (ms), holds it.
  virtual Status ResetWorker(const WorkerRecord& w, const std::string& self,
                             int64_t live_since) = 0;

  // Changes and scheduler state (schedulers, change sources). Not pure so that test doubles
  // need not implement them; SqlStore does (sql_changes.cc).
  // AddChange sets id (and created_at when 0).
  virtual Status AddChange(ChangeRecord* c);
  // Newest first; |before_id| 0 means from the newest.
  virtual Status ListChanges(int64_t before_id, int limit, std::vector<ChangeRecord>* out);
  // The newest change id of |repository| (0 when none).
  virtual Status LatestChangeId(const std::string& repository, int64_t* id);
  // The revision of the newest change of |branch| in |repository| ("" when none).
  virtual Status LastChangeRevision(const std::string& repository, const std::string& branch,
                                    std::string* revision);
  // Remembers webhook delivery |delivery| of |provider| at |now|; |first| is false when it was
  // already remembered. Deliveries older than |keep_ms| are forgotten.
  virtual Status RememberDelivery(const std::string& provider, const std::string& delivery,
                                  int64_t now, int64_t keep_ms, bool* first);
  virtual Status LinkRequestChanges(int64_t request_id, const std::vector<int64_t>& change_ids);
  virtual Status ChangesOfRequest(int64_t request_id, std::vector<ChangeRecord>* out);
  // NotFound when |name| has no state yet.
  virtual Status GetSchedulerState(const std::string& name, SchedulerState* out);
  virtual Status PutSchedulerState(const std::string& name, const SchedulerState& state);
  // Stores |state| only if it moves the stored last_fire forward (or none is stored):
  // *advanced tells. Several masters on one store may try to fire the same slot; the row lock
  // lets exactly one of them advance it, in the transaction that queues the slot's requests.
  virtual Status AdvanceSchedulerState(const std::string& name, const SchedulerState& state,
                                       bool* advanced);

  // Pipelines (issue 4; SqlStore: sql_pipeline.cc). Not pure, for the same reason.
  // Replaces the build's properties (steps add got_revision, set_property values, ...).
  virtual Status SetBuildProperties(int64_t build_id, const Json& properties);
  // SetBuildWorker and SetBuildProperties in one write (distributed mode: the first event).
  virtual Status AdoptBuild(int64_t build_id, const std::string& worker, const Json& properties);
  // FinishStep and SetStepResult in one write (a consume step's end).
  virtual Status FinishStepWithResult(int64_t build_id, int idx, Result result, int64_t now,
                                      const Json& result_json);
  // A step that started and ended in one batch of events, stored in one write: inserted as
  // finished (|s|'s result, finished_at and result_json, null for none), or, started before (a
  // resend), ended as FinishStep / FinishStepWithResult would.
  virtual Status RecordStep(const StepRecord& s);
  // AdoptBuild and FinishBuild in one write: a build whose worker or properties changed in the
  // batch of events that ends it.
  virtual Status FinishBuildWith(int64_t build_id, const std::string& worker,
                                 const Json& properties, Result result, int64_t now);
  // FinishStep (when end.step >= 0), FinishBuild or FinishBuildWith (when end.worker is set)
  // and FinishRequest as one write: the first refusal is returned, every write is made as its
  // own call would make it. PostgreSQL: one statement (one round trip instead of three).
  virtual Status FinishJobRows(const JobEnd& end);
  // StartStep(|s|) and AdoptBuild(s.build_id, |worker|, |properties|) as one write (a job's
  // start: its first step and the directory its worker chose). The first refusal is returned,
  // both writes made as their own calls would make them. PostgreSQL: one statement; inside a
  // transaction sent without waiting for its answer (as RecordSteps), so a missing build is
  // not reported there.
  virtual Status StartStepWith(const StepRecord& s, const std::string& worker,
                               const Json& properties);
  // The ends of a batch of jobs in few statements (SqlStore: sql_job_batch.cc; the defaults
  // write row by row). Only for rows known to exist: the builds of running jobs. On
  // PostgreSQL their answers are read with the next statement's or the commit's: an error in
  // them fails that statement or the commit (the transaction is lost at its first error).
  // RecordStep for each of |steps| (each (build_id, idx) at most once).
  virtual Status RecordSteps(const std::vector<StepRecord>& steps);
  // FinishBuildWith for each of |ends|.
  struct BuildEnd {
    int64_t id = 0;
    Result result = Result::kSuccess;
    int64_t finished_at = 0;
    std::string worker;
    Json properties;
    int64_t request_id = 0;  // FinishJobs: the request that ends with the build (0: none)
  };
  virtual Status FinishBuildsWith(const std::vector<BuildEnd>& ends);
  // FinishRequest for each of |ids|, all with |result|.
  virtual Status FinishRequests(const std::vector<int64_t>& ids, Result result, int64_t now);
  // The end of a step started in an earlier batch (FinishStep's write).
  struct StepEnd {
    int64_t build_id = 0;
    int idx = 0;
    Result result = Result::kSuccess;
    int64_t finished_at = 0;
  };
  // FinishStep for each of |ends|.
  virtual Status FinishSteps(const std::vector<StepEnd>& ends);
  // All the ends of a batch of jobs: RecordSteps(|steps|), FinishSteps(|step_ends|),
  // FinishBuildsWith(|builds|) and, for each build with a request_id, FinishRequest with the
  // build's result and time. Every write is made; the first error is returned. PostgreSQL, a
  // batch of fewer than 8 builds: one statement per job (its step, its build, its request),
  // sent without waiting for its answer (as RecordSteps); more: several rows per statement.
  virtual Status FinishJobs(const std::vector<StepRecord>& steps,
                            const std::vector<StepEnd>& step_ends,
                            const std::vector<BuildEnd>& builds);
  virtual Status SetStepTests(int64_t build_id, int idx, const Json& tests);
  virtual Status SetStepResult(int64_t build_id, int idx, const Json& result);
  virtual Status ListBuildTests(int64_t build_id, std::vector<StepTestsRecord>* out);
  // Insert or replace (an upload of the same path again replaces it).
  virtual Status PutArtifact(const ArtifactRecord& a);
  virtual Status ListArtifacts(int64_t build_id, std::vector<ArtifactRecord>* out);
  virtual Status GetArtifact(int64_t build_id, const std::string& path, ArtifactRecord* out);
  // A queued request replaced by a newer one (builder collapse): finished as skipped, state
  // "superseded", |by| remembered. SupersededBy gives 0 when the request was not superseded.
  virtual Status SupersedeRequest(int64_t id, int64_t by, int64_t now);
  virtual Status SupersededBy(int64_t id, int64_t* by);

  // Notifications (issue 11; SqlStore: sql_notify.cc). Not pure, for the same reason.
  // Adds |n| as "pending" (created_at, next_at: now when 0); a second notice for the same
  // build, notifier and event is not added (n->id is left 0).
  virtual Status AddNotification(NotificationRecord* n);
  // Marks up to |limit| due notices of |notifier| (pending, or retrying with next_at <= now)
  // as "sending", one attempt more, and returns them oldest first.
  virtual Status ClaimNotifications(const std::string& notifier, int64_t now, int limit,
                                    std::vector<NotificationRecord>* out);
  // The ids of notices of |notifier| that ClaimNotifications would take (a cheap read).
  virtual Status DueNotifications(const std::string& notifier, int64_t now, int limit,
                                  std::vector<int64_t>* ids);
  // Stores the outcome of an attempt: state, attempts, next_at, answer, updated_at, sent_at
  // by id.
  virtual Status UpdateNotification(const NotificationRecord& n);
  virtual Status GetNotification(int64_t id, NotificationRecord* out);
  // The notice of |build_id| by |notifier| for |event|; NotFound when there is none.
  virtual Status FindNotification(int64_t build_id, const std::string& notifier,
                                  const std::string& event, NotificationRecord* out);
  virtual Status ListNotifications(int64_t build_id, std::vector<NotificationRecord>* out);
  // The notifier names that still have notices to send (pending, retrying or sending).
  virtual Status NotifiersWithWork(std::vector<std::string>* out);
  // Notices left "sending" by a master that stopped: their outcome is unknown, so they are
  // made "retrying" (due now) with |why| as answer. |count| receives how many.
  virtual Status RequeueSendingNotifications(int64_t now, const std::string& why, int* count);
  // Fails every unsent notice of |notifier| with |why| (the notifier was removed).
  virtual Status FailNotifications(const std::string& notifier, int64_t now,
                                   const std::string& why);

  // Distributed mode with several masters (issue 10; SqlStore: sql_worker_events.cc). The
  // last event id of worker |worker|'s process |instance| that a master applied; NotFound when
  // the store keeps none for that process.
  virtual Status GetAppliedEvents(const std::string& worker, const std::string& instance,
                                  int64_t* upto);
  // Records, in the open transaction, that the events of that process up to |upto| are
  // applied. Conflict when the store already says |upto| or more for it: another master
  // applied them, so this batch must not commit.
  virtual Status AdvanceAppliedEvents(const std::string& worker, const std::string& instance,
                                      int64_t upto);
  // Several masters on one store (issue 10; SqlStore: sql_cluster.cc). Not pure either.
  // The master recorded as the owner of every request ClaimRequest claims from now on.
  virtual void SetMasterName(const std::string& name);
  // The first |limit| queued requests in dispatch order, only id, builder and priority filled:
  // what a master polling the shared queue needs, read without the properties.
  virtual Status QueuedHeads(int limit, std::vector<RequestRecord>* out);
  // The claimed requests owned by another master than |self|.
  virtual Status ClaimedByOthers(const std::string& self, std::vector<ClaimedRequest>* out);
  // Makes claimed attempt |attempt| of request |id| |to|'s, if it is still run by |worker| and
  // owned by |from| (each '' for any); |moved| says whether it was.
  virtual Status MoveRequest(int64_t id, int attempt, const std::string& worker,
                             const std::string& from, const std::string& to, bool* moved);
  // RequeueRequest, only while attempt |attempt| is claimed and owned by |master|.
  virtual Status RequeueOwnedRequest(int64_t id, int attempt, const std::string& master,
                                     bool* requeued);
  // The masters whose heartbeat (cluster/cluster.cc) is at or after |since| (ms).
  virtual Status LiveMasters(int64_t since, std::vector<std::string>* out);
  // The value of key |name| every master shares: |proposed| stored first when there is none.
  virtual Status SharedKey(const std::string& name, const std::string& proposed, std::string* out);
  // On-demand instances (issue 13; SqlStore: sql_pool.cc). Not pure, for the same reason.
  // Insert or replace by name.
  virtual Status PutPoolInstance(const PoolInstanceRecord& r);
  virtual Status DeletePoolInstance(const std::string& name);
  virtual Status ListPoolInstances(std::vector<PoolInstanceRecord>* out);
};

// Opens (creating and migrating as needed) the store at |url|: "sqlite:PATH" (PATH relative to
// |base_dir| unless absolute) or "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]"
// ("postgres://" too; a non-empty |password| overrides the URL's). A database server that
// cannot be reached is Unavailable; the message never holds the password.
Status OpenStore(const std::string& url, const std::string& base_dir, std::unique_ptr<Store>* out,
                 const std::string& password = {});

// |url| as it may be shown in a log or an error: a database password replaced by "***".
std::string RedactedStoreUrl(const std::string& url);

}  // namespace grove
