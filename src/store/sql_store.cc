#include "store/sql_store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "store/log_codec.h"
#include "store/pg_log_batch.h"
#include "store/sql_changes.h"
#include "store/sql_cluster.h"
#include "store/sql_job_batch.h"
#include "store/sql_log_append.h"
#include "store/sql_notify.h"
#include "store/sql_pipeline.h"
#include "store/sql_pool.h"
#include "store/sql_worker_events.h"

namespace grove {
namespace {

using sql::Query;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

int64_t LimitOf(int limit) {
  return limit > 0 ? limit : kNoLimit;
}

// Never throws: a string that is not valid UTF-8 (say, from a log line copied into a property)
// is stored with replacement characters rather than failing the write.
std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status Parse(std::string_view text, const char* what, Json* out) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::IoError(std::string("store: corrupt JSON in ") + what);
  *out = std::move(j);
  return Status::Ok();
}

Status NotFound(const char* what, int64_t id) {
  return Status::NotFound(std::string(what) + " " + std::to_string(id) + " not found");
}

// --- Rows --------------------------------------------------------------------------------

// Column lists shared by several queries. Macros, so that every query stays one compile-time
// string literal; #undef at the end of the file.
#define GROVE_REQUEST_COLUMNS                                                           \
  "id, builder, reason, properties, source, state, attempt, priority, worker, result, " \
  "submitted_at, claimed_at, finished_at"

Status ReadRequest(Query& q, RequestRecord* r) {
  r->id = q.Int(0);
  r->builder = q.Text(1);
  r->reason = q.Text(2);
  GROVE_RETURN_IF_ERROR(Parse(q.Text(3), "requests.properties", &r->properties));
  GROVE_RETURN_IF_ERROR(Parse(q.Text(4), "requests.source", &r->source));
  r->state = q.Text(5);
  r->attempt = static_cast<int>(q.Int(6));
  r->priority = static_cast<int>(q.Int(7));
  r->worker = q.Text(8);
  r->result = static_cast<int>(q.Int(9));
  r->submitted_at = q.Int(10);
  r->claimed_at = q.Int(11);
  r->finished_at = q.Int(12);
  return Status::Ok();
}

#define GROVE_BUILD_COLUMNS                                                                    \
  "id, request_id, attempt, builder, number, worker, state, result, started_at, finished_at, " \
  "properties"

// The columns of a build but its properties.
void ReadBuildColumns(Query& q, BuildRecord* b) {
  b->id = q.Int(0);
  b->request_id = q.Int(1);
  b->attempt = static_cast<int>(q.Int(2));
  b->builder = q.Text(3);
  b->number = q.Int(4);
  b->worker = q.Text(5);
  b->state = q.Text(6);
  b->result = static_cast<int>(q.Int(7));
  b->started_at = q.Int(8);
  b->finished_at = q.Int(9);
}

// buildnumber and buildid are columns: the row's properties need not repeat them (so a build is
// inserted with its properties complete, never updated for its own id), and they are added
// here, unless a step set them.
Status ReadBuild(Query& q, BuildRecord* b) {
  ReadBuildColumns(q, b);
  GROVE_RETURN_IF_ERROR(Parse(q.Text(10), "builds.properties", &b->properties));
  if (!b->properties.is_object()) return Status::Ok();
  if (!b->properties.contains("buildnumber")) b->properties["buildnumber"] = b->number;
  if (!b->properties.contains("buildid")) b->properties["buildid"] = b->id;
  return Status::Ok();
}

// For the lists, which never show properties.
Status ReadBuildSummary(Query& q, BuildRecord* b) {
  ReadBuildColumns(q, b);
  b->properties = Json::object();
  return Status::Ok();
}

Status ReadStep(Query& q, StepRecord* s) {
  s->build_id = q.Int(0);
  s->idx = static_cast<int>(q.Int(1));
  s->name = q.Text(2);
  s->state = q.Text(3);
  s->result = static_cast<int>(q.Int(4));
  s->started_at = q.Int(5);
  s->finished_at = q.Int(6);
  s->log_bytes = q.Int(7);
  s->log_lines = q.Int(8);
  if (q.IsNull(9)) return Status::Ok();
  return Parse(q.Text(9), "steps.result_json", &s->result_json);
}

Status ReadWorker(Query& q, WorkerRecord* w) {
  w->name = q.Text(0);
  GROVE_RETURN_IF_ERROR(Parse(q.Text(1), "workers.tags", &w->tags));
  w->capacity = static_cast<int>(q.Int(2));
  w->connected = q.Int(3) != 0;
  w->paused = q.Int(4) != 0;
  w->last_seen = q.Int(5);
  w->master = q.Text(6);
  return Status::Ok();
}

// Steps |q| through all its rows, reading each with |read| into a new element of |out|.
template <typename Record, typename Read>
Status ReadAll(Query& q, std::vector<Record>* out, Read read) {
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    Record rec;
    if constexpr (std::is_same_v<decltype(read(q, &rec)), void>) {
      read(q, &rec);
    } else {
      GROVE_RETURN_IF_ERROR(read(q, &rec));
    }
    out->push_back(std::move(rec));
  }
}

// --- Queries (SQL shared by SQLite and PostgreSQL) -------------------------------------------

constexpr std::string_view kInsertRequest =
    "INSERT INTO requests (builder, reason, properties, source, state, attempt, priority, "
    "worker, result, submitted_at, claimed_at, finished_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
constexpr std::string_view kGetRequest =
    "SELECT " GROVE_REQUEST_COLUMNS " FROM requests WHERE id = $1";
constexpr std::string_view kListRequests = "SELECT " GROVE_REQUEST_COLUMNS
                                           " FROM requests WHERE state = $1 "
                                           "ORDER BY priority DESC, id LIMIT $2";
constexpr std::string_view kRequestState = "SELECT state FROM requests WHERE id = $1";
// The claim hands back the claimed row too: the job is made from it without reading it again.
// A row found by its key and then tested for its state says "(state = ...) IS TRUE", which no
// index serves, so that PostgreSQL's plan finds it by the key (kClaimFreshRequestPg says why).
constexpr std::string_view kClaimRequestRow =
    "UPDATE requests SET state = 'claimed', attempt = attempt + 1, worker = $2, claimed_at = $3, "
    "master = $4 WHERE id = $1 AND (state = 'queued') IS TRUE RETURNING " GROVE_REQUEST_COLUMNS;
constexpr std::string_view kClaimRequest =
    "UPDATE requests SET state = 'claimed', attempt = attempt + 1, worker = $2, claimed_at = $3, "
    "master = $4 WHERE id = $1 AND (state = 'queued') IS TRUE RETURNING attempt";
// ClaimFreshRequest on SQLite: the claim of a request at attempt 0, without RETURNING (the
// caller has the row); the build is then started as StartBuild does.
constexpr std::string_view kClaimFreshRequest =
    "UPDATE requests SET state = 'claimed', attempt = 1, worker = $2, claimed_at = $3, "
    "master = $4 WHERE id = $1 AND state = 'queued' AND attempt = 0";
// ClaimFreshRequest on PostgreSQL: the claim, the number and the build in one round trip
// instead of three. No row when the request was not claimed (then nothing changed); the build's
// id is NULL when the attempt had a build already (its number is then given back).
// "(state = 'queued') IS TRUE", not "state = 'queued'": PostgreSQL's plan, made once for every
// later run, may find the row through requests_by_state (state, priority, id) instead of the
// key, and that walks every entry of state 'queued' — the whole queue and every request that
// was ever queued and not yet vacuumed (issue 14: a sixth of the server's CPU per build in a
// 3,000-build burst). The same test, written so that no index can serve it, leaves the key.
constexpr std::string_view kClaimFreshRequestPg =
    "WITH c AS (UPDATE requests SET state = 'claimed', attempt = 1, worker = $2, claimed_at = $3, "
    "master = $4 WHERE id = $1 AND (state = 'queued') IS TRUE AND attempt = 0 RETURNING id), "
    "n AS (INSERT INTO builder_numbers (builder, last_number) SELECT $5, 1 FROM c "
    "ON CONFLICT (builder) DO UPDATE SET last_number = builder_numbers.last_number + 1 "
    "RETURNING last_number), "
    "b AS (INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, "
    "started_at, finished_at, properties) SELECT $1, 1, $5, n.last_number, $2, $6, $7, $8, $9, $10 "
    "FROM n ON CONFLICT (request_id, attempt) DO NOTHING RETURNING id) "
    "SELECT n.last_number, (SELECT id FROM b) FROM n";
// AddClaimedRequest: a request inserted claimed (SQLite; its build is then started as
// StartBuild does).
constexpr std::string_view kInsertClaimedRequest =
    "INSERT INTO requests (builder, reason, properties, source, state, attempt, priority, "
    "worker, result, submitted_at, claimed_at, finished_at, master) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
// AddClaimedRequest on PostgreSQL: the request, its number and its build in one round trip.
constexpr std::string_view kInsertClaimedRequestPg =
    "WITH r AS (INSERT INTO requests (builder, reason, properties, source, state, attempt, "
    "priority, worker, result, submitted_at, claimed_at, finished_at, master) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id), "
    "n AS (INSERT INTO builder_numbers (builder, last_number) SELECT $1, 1 FROM r "
    "ON CONFLICT (builder) DO UPDATE SET last_number = builder_numbers.last_number + 1 "
    "RETURNING last_number), "
    "b AS (INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, "
    "started_at, finished_at, properties) SELECT r.id, $6, $1, n.last_number, $8, $14, $15, $16, "
    "$17, $18 FROM r, n RETURNING id) "
    "SELECT (SELECT id FROM r), (SELECT last_number FROM n), (SELECT id FROM b)";
// FinishJobRows on PostgreSQL: the last step's end (when $5 is not negative), the build's
// (kFinishBuildJobPg or, with its worker and properties, kAdoptFinishBuildJobPg) and the
// request's in one statement. Each row counts: the first missing one is reported.
#define GROVE_FINISH_JOB_PG(BUILD_SET)                                                         \
  "WITH s AS (UPDATE steps SET state = 'finished', result = $6, finished_at = $4 "             \
  "WHERE build_id = $1 AND idx = $5 RETURNING 1), "                                            \
  "b AS (UPDATE builds SET " BUILD_SET                                                         \
  "state = 'finished', result = $3, finished_at = $4 "                                         \
  "WHERE id = $1 RETURNING 1), "                                                               \
  "r AS (UPDATE requests SET state = 'finished', result = $3, finished_at = $4 WHERE id = $2 " \
  "RETURNING 1) "                                                                              \
  "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM b), (SELECT count(*) FROM r)"
constexpr std::string_view kFinishJobPg = GROVE_FINISH_JOB_PG("");
constexpr std::string_view kAdoptFinishJobPg =
    GROVE_FINISH_JOB_PG("worker = $7, properties = $8, ");
#undef GROVE_FINISH_JOB_PG
// StartStepWith on PostgreSQL: kInsertStep and the build's worker and properties in one
// statement.
constexpr std::string_view kStartStepWithPg =
    "WITH b AS (UPDATE builds SET worker = $8, properties = $9 WHERE id = $1 RETURNING 1), "
    "s AS (INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at) "
    "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1) "
    "ON CONFLICT (build_id, idx) DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM s)";
// The same inside a transaction, sent without waiting for its answer (Stmt::RunDeferred): a
// job's start costs no round trip of its own. Nobody reads its counts: a missing build (which
// the caller, whose job is running, does not expect) changes nothing and is not reported.
constexpr std::string_view kStartStepWithPgUnanswered =
    "WITH b AS (UPDATE builds SET worker = $8, properties = $9 WHERE id = $1) "
    "INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at) "
    "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1) "
    "ON CONFLICT (build_id, idx) DO NOTHING";
// A batch of requests: kInsertRequest with |n| rows (its VALUES repeated, $13 onwards);
// |claimed|: kInsertClaimedRequest's 13 columns, $14 onwards.
std::string InsertRequestsSql(size_t n, bool claimed = false) {
  const std::string_view base = claimed ? kInsertClaimedRequest : kInsertRequest;
  const int columns = claimed ? 13 : 12;
  std::string sql(base.substr(0, base.find("VALUES") + 7));
  for (size_t i = 0; i < n; ++i) {
    sql += i ? ", (" : "(";
    for (int c = 1; c <= columns; ++c)
      sql += (c > 1 ? ", $" : "$") + std::to_string(i * columns + c);
    sql += ")";
  }
  return sql + " RETURNING id";
}
// Rows per multi-row insert: a batch is cut into these, the rest inserted one by one, so that
// the statement cache holds two shapes.
constexpr size_t kInsertRowsPerStatement[] = {32, 8};

// A batch's claim: "... WHERE state = 'queued' AND id IN (" + $4, $5, ... + ")" (ClaimSql).
constexpr std::string_view kClaimRequestsHead =
    "UPDATE requests SET state = 'claimed', attempt = attempt + 1, worker = $1, claimed_at = $2, "
    "master = $3 WHERE state = 'queued' AND id IN (";
constexpr std::string_view kClaimRequestsTail = ") RETURNING " GROVE_REQUEST_COLUMNS;
// The statement for up to |n| ids, padded to one of a few sizes so that the connection's
// statement cache holds a few of them, not one per batch size (an id twice in IN is harmless).
constexpr size_t kClaimSizes[] = {8, 32, 128};
std::string ClaimSql(size_t n) {
  std::string sql(kClaimRequestsHead);
  for (size_t i = 0; i < n; ++i) sql += (i ? ", $" : "$") + std::to_string(i + 4);
  sql += kClaimRequestsTail;
  return sql;
}
constexpr std::string_view kRequeueRequest =
    "UPDATE requests SET state = 'queued', worker = '', claimed_at = 0 "
    "WHERE id = $1 AND (state = 'claimed') IS TRUE RETURNING id";
constexpr std::string_view kFinishRequest =
    "UPDATE requests SET state = 'finished', result = $2, finished_at = $3 WHERE id = $1";

// One statement hands out the next number: both engines lock the builder's row for the rest
// of the transaction, so concurrent masters cannot get the same number.
constexpr std::string_view kNextBuildNumber =
    "INSERT INTO builder_numbers (builder, last_number) VALUES ($1, 1) "
    "ON CONFLICT (builder) DO UPDATE SET last_number = builder_numbers.last_number + 1 "
    "RETURNING last_number";
// Inserts the build unless its request is missing or the attempt has one already (then no row
// comes back): the usual start costs this and the number, no lookups before them.
// A batch's numbers for one builder: the last of $2 numbers taken at once.
constexpr std::string_view kNextBuildNumbers =
    "INSERT INTO builder_numbers (builder, last_number) VALUES ($1, $2) "
    "ON CONFLICT (builder) DO UPDATE SET last_number = builder_numbers.last_number + $2 "
    "RETURNING last_number";
constexpr std::string_view kInsertBuild =
    "INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, "
    "started_at, finished_at, properties) "
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 "
    "WHERE EXISTS (SELECT 1 FROM requests WHERE id = $1) "
    "ON CONFLICT (request_id, attempt) DO NOTHING RETURNING id";
// A number taken for a build that was not inserted goes back. The builder's row is locked by
// this transaction since the number was taken, so no later number was handed out meanwhile.
constexpr std::string_view kGiveBackBuildNumber =
    "UPDATE builder_numbers SET last_number = last_number - 1 "
    "WHERE builder = $1 AND last_number = $2";
constexpr std::string_view kGetBuild = "SELECT " GROVE_BUILD_COLUMNS " FROM builds WHERE id = $1";
constexpr std::string_view kFindBuild =
    "SELECT " GROVE_BUILD_COLUMNS " FROM builds WHERE request_id = $1 AND attempt = $2";
constexpr std::string_view kListBuilds = "SELECT " GROVE_BUILD_COLUMNS
                                         " FROM builds WHERE builder = $1 AND number < $2 "
                                         "ORDER BY number DESC LIMIT $3";
constexpr std::string_view kBuildsOfRequest =
    "SELECT " GROVE_BUILD_COLUMNS " FROM builds WHERE request_id = $1 ORDER BY attempt";
// The literal state = 'running' lets both engines use the partial index builds_running.
constexpr std::string_view kRunningBuilds =
    "SELECT " GROVE_BUILD_COLUMNS " FROM builds WHERE state = 'running' ORDER BY id";
// Build numbers per builder are consecutive and never reused, so the last N builds are those
// numbered above last_number - N: one seek per builder on UNIQUE (builder, number), instead of
// a window over the whole builds table. CROSS JOIN makes SQLite drive from builder_numbers
// (the small side) rather than scan builds.
constexpr std::string_view kLastBuildsPerBuilder =
    "SELECT builds.id, request_id, attempt, builds.builder, number, worker, state, result, "
    "started_at, finished_at, '{}'"  // lists never show properties: skip parsing them
    " FROM builder_numbers n CROSS JOIN builds WHERE builds.builder = n.builder "
    "AND builds.number > n.last_number - $1 ORDER BY n.builder, builds.number DESC";
constexpr std::string_view kFinishBuild =
    "UPDATE builds SET state = 'finished', result = $2, finished_at = $3 WHERE id = $1";
constexpr std::string_view kBuildExists = "SELECT 1 FROM builds WHERE id = $1";
constexpr std::string_view kSetBuildWorker = "UPDATE builds SET worker = $2 WHERE id = $1";

// No row inserted: the build is missing, or the step was started before (a repeated event).
constexpr std::string_view kInsertStep =
    "INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at) "
    "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1) "
    "ON CONFLICT (build_id, idx) DO NOTHING";
constexpr std::string_view kFinishStep =
    "UPDATE steps SET state = 'finished', result = $3, finished_at = $4 "
    "WHERE build_id = $1 AND idx = $2";
constexpr std::string_view kListSteps =
    "SELECT build_id, idx, name, state, result, started_at, finished_at, log_bytes, log_lines, "
    "result_json FROM steps WHERE build_id = $1 ORDER BY idx";
constexpr std::string_view kStepLogSize =
    "SELECT log_bytes, log_lines FROM steps WHERE build_id = $1 AND idx = $2";

constexpr std::string_view kInsertChunk =
    "INSERT INTO log_chunks (build_id, idx, seq, byte_offset, line_offset, raw_size, lines, data) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
// The next chunk a step's log expects: one seek on the primary key (build_id, idx, seq).
constexpr std::string_view kNextSeq =
    "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_chunks WHERE build_id = $1 AND idx = $2";
constexpr std::string_view kGrowStepLog =
    "UPDATE steps SET log_bytes = log_bytes + $3, log_lines = log_lines + $4 "
    "WHERE build_id = $1 AND idx = $2";
// The chunks covering bytes [$3, $4): from the one holding $3 (the largest byte_offset <= $3,
// an index seek) up to the one before $4. Only these rows' blobs are read.
constexpr std::string_view kReadChunks =
    "SELECT byte_offset, raw_size, data FROM log_chunks "
    "WHERE build_id = $1 AND idx = $2 AND byte_offset < $4 AND byte_offset >= "
    "(SELECT byte_offset FROM log_chunks WHERE build_id = $1 AND idx = $2 AND byte_offset <= $3 "
    "ORDER BY byte_offset DESC LIMIT 1) "
    "ORDER BY byte_offset";

constexpr std::string_view kUpsertWorker =
    "INSERT INTO workers (name, tags, capacity, connected, paused, last_seen, master) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (name) DO UPDATE SET tags = excluded.tags, capacity = excluded.capacity, "
    "connected = excluded.connected, paused = excluded.paused, last_seen = excluded.last_seen, "
    "master = excluded.master";
constexpr std::string_view kListWorkers =
    "SELECT name, tags, capacity, connected, paused, last_seen, master FROM workers ORDER BY name";
// Conditional, so that the close of a worker's old connection to one master never marks it
// disconnected after it said hello to another.
constexpr std::string_view kReleaseWorker =
    "UPDATE workers SET connected = 0, master = '', last_seen = $3 WHERE name = $1 AND master = $2";
constexpr std::string_view kConfigureWorker =
    "INSERT INTO workers (name, tags, capacity) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET tags = excluded.tags, capacity = excluded.capacity";
constexpr std::string_view kResetWorker =
    "UPDATE workers SET connected = 0, master = '' WHERE name = $1 AND (master = '' OR "
    "master = $2 OR master NOT IN (SELECT name FROM masters WHERE last_seen >= $3))";

// --- The store -------------------------------------------------------------------------------

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<sql::Db> db) {
    if (db->dialect() == sql::Dialect::kPostgres) {
      auto batching = std::make_unique<sql_log::LogBatchingDb>(std::move(db));
      log_batch_ = batching.get();
      db_ = std::move(batching);
    } else {
      db_ = std::move(db);
    }
  }

  Status TransactionStatus() const override { return db_->TransactionStatus(); }

  Status Begin() override {
    if (db_->InTransaction()) return Status::Invalid("store: a transaction is already open");
    return db_->BeginWrite();
  }
  Status Commit() override {
    // A transaction an error ended is the Db's to report (and to forget).
    if (!db_->InTransaction() && db_->TransactionStatus().ok())
      return Status::Invalid("store: no transaction to commit");
    return db_->Commit();
  }
  // Nothing to undo when the transaction is already gone (e.g. a failed COMMIT ended it); the
  // Db still learns that it is over.
  Status Rollback() override { return db_->Rollback(); }

  // --- Requests ---

  // The columns of kInsertRequest and kInsertClaimedRequest(Pg), in their order (1 to 12).
  static void BindRequestColumns(Query& q, const RequestRecord& r) {
    q.Bind(1, r.builder)
        .Bind(2, r.reason)
        .Bind(3, Dump(r.properties))
        .Bind(4, Dump(r.source))
        .Bind(5, r.state)
        .Bind(6, r.attempt)
        .Bind(7, r.priority)
        .Bind(8, r.worker)
        .Bind(9, r.result)
        .Bind(10, r.submitted_at)
        .Bind(11, r.claimed_at)
        .Bind(12, r.finished_at);
  }

  Status AddRequest(RequestRecord* r) override {
    if (r->builder.empty()) return Status::Invalid("store: a request needs a builder");
    r->state = "queued";
    if (r->submitted_at == 0) r->submitted_at = NowMs();
    Query q;
    GROVE_RETURN_IF_ERROR(db_->PrepareInsert(kInsertRequest, &q));
    BindRequestColumns(q, *r);
    GROVE_RETURN_IF_ERROR(q.RunInsert(&r->id));
    if (r->id == 0) return Status::IoError("store: request insert returned no row");
    return Status::Ok();
  }

  Status AddRequests(std::vector<RequestRecord>* rs) override {
    return InsertRequests(rs, /*claimed=*/false);
  }

  Status AddClaimedRequests(int64_t now, const std::string& worker,
                            std::vector<RequestRecord>* rs) override {
    for (RequestRecord& r : *rs) {
      r.attempt = 1;
      r.worker = worker;
      r.claimed_at = now;
    }
    return InsertRequests(rs, /*claimed=*/true);
  }

  // AddRequests' rows, queued or (|claimed|) as AddClaimedRequests sets them.
  Status InsertRequests(std::vector<RequestRecord>* rs, bool claimed) {
    std::vector<RequestRecord>& all = *rs;
    const int columns = claimed ? 13 : 12;
    size_t from = 0;
    for (size_t rows : kInsertRowsPerStatement) {
      for (; all.size() - from >= rows; from += rows) {
        // The statement's text, made once per shape (the statement cache is keyed by it).
        static const std::string kSql[2][2] = {
            {InsertRequestsSql(kInsertRowsPerStatement[0]),
             InsertRequestsSql(kInsertRowsPerStatement[1])},
            {InsertRequestsSql(kInsertRowsPerStatement[0], true),
             InsertRequestsSql(kInsertRowsPerStatement[1], true)}};
        const std::string& sql = kSql[claimed][rows == kInsertRowsPerStatement[0] ? 0 : 1];
        Query q;
        GROVE_RETURN_IF_ERROR(db_->Prepare(sql, &q));
        for (size_t i = 0; i < rows; ++i) {
          RequestRecord* r = &all[from + i];
          if (r->builder.empty()) return Status::Invalid("store: a request needs a builder");
          r->state = claimed ? "claimed" : "queued";
          if (r->submitted_at == 0) r->submitted_at = NowMs();
          const int p = static_cast<int>(i) * columns;
          q.Bind(p + 1, r->builder)
              .Bind(p + 2, r->reason)
              .Bind(p + 3, Dump(r->properties))
              .Bind(p + 4, Dump(r->source))
              .Bind(p + 5, r->state)
              .Bind(p + 6, r->attempt)
              .Bind(p + 7, r->priority)
              .Bind(p + 8, r->worker)
              .Bind(p + 9, r->result)
              .Bind(p + 10, r->submitted_at)
              .Bind(p + 11, r->claimed_at)
              .Bind(p + 12, r->finished_at);
          if (claimed) q.Bind(p + 13, master_);
        }
        // RETURNING's order is the engine's; the ids of one statement increase in VALUES order.
        std::vector<int64_t> ids;
        for (;;) {
          bool row = false;
          GROVE_RETURN_IF_ERROR(q.Step(&row));
          if (!row) break;
          ids.push_back(q.Int(0));
        }
        if (ids.size() != rows) return Status::IoError("store: request insert returned no row");
        std::sort(ids.begin(), ids.end());
        for (size_t i = 0; i < rows; ++i) all[from + i].id = ids[i];
      }
    }
    for (; from < all.size(); ++from) {
      if (!claimed) {
        GROVE_RETURN_IF_ERROR(AddRequest(&all[from]));
        continue;
      }
      RequestRecord* r = &all[from];
      if (r->builder.empty()) return Status::Invalid("store: a request needs a builder");
      r->state = "claimed";
      if (r->submitted_at == 0) r->submitted_at = NowMs();
      Query q;
      GROVE_RETURN_IF_ERROR(db_->PrepareInsert(kInsertClaimedRequest, &q));
      BindRequestColumns(q, *r);
      q.Bind(13, master_);
      GROVE_RETURN_IF_ERROR(q.RunInsert(&r->id));
      if (r->id == 0) return Status::IoError("store: request insert returned no row");
    }
    return Status::Ok();
  }

  Status GetRequest(int64_t id, RequestRecord* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kGetRequest, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return NotFound("request", id);
    return ReadRequest(q, out);
  }

  Status ListRequests(const std::string& state, int limit,
                      std::vector<RequestRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kListRequests, &q));
    q.Bind(1, state).Bind(2, LimitOf(limit));
    return ReadAll(q, out, ReadRequest);
  }

  Status ClaimRequestRecord(int64_t id, const std::string& worker, int64_t now,
                            RequestRecord* claimed) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kClaimRequestRow, &q));
    q.Bind(1, id).Bind(2, worker).Bind(3, now).Bind(4, master_);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return WhyNotInState(id, "queued");
    return ReadRequest(q, claimed);
  }

  Status ClaimFreshRequest(int64_t now, BuildRecord* b) override {
    if (b->builder.empty()) return Status::Invalid("store: a build needs a builder");
    if (b->state.empty()) b->state = "running";
    b->attempt = 1;
    if (db_->dialect() != sql::Dialect::kPostgres) {
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kClaimFreshRequest, &q));
      q.Bind(1, b->request_id).Bind(2, b->worker).Bind(3, now).Bind(4, master_);
      int64_t changed = 0;
      GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
      if (changed == 0) return NotFresh(b->request_id);
      q.Reset();
      // Claimed now: a build that cannot start leaves id 0 for the caller to start it again.
      if (!StartBuild(b).ok()) b->id = 0;
      return db_->TransactionStatus();
    }
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kClaimFreshRequestPg, &q));
    q.Bind(1, b->request_id)
        .Bind(2, b->worker)
        .Bind(3, now)
        .Bind(4, master_)
        .Bind(5, b->builder)
        .Bind(6, b->state)
        .Bind(7, b->result)
        .Bind(8, b->started_at)
        .Bind(9, b->finished_at)
        .Bind(10, Dump(b->properties));
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return NotFresh(b->request_id);
    const int64_t number = q.Int(0);
    const int64_t id = q.IsNull(1) ? 0 : q.Int(1);
    q.Reset();
    if (id != 0) {
      b->id = id;
      b->number = number;
      return Status::Ok();
    }
    // Claimed, but the attempt had a build: that one is it, and the number goes back.
    Query back;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kGiveBackBuildNumber, &back));
    GROVE_RETURN_IF_ERROR(back.Bind(1, b->builder).Bind(2, number).Run());
    back.Reset();
    if (!FindBuild(b->request_id, b->attempt, b).ok()) b->id = 0;
    return db_->TransactionStatus();
  }

  Status AddClaimedRequest(int64_t now, RequestRecord* r, BuildRecord* b) override {
    if (r->builder.empty()) return Status::Invalid("store: a request needs a builder");
    if (b->builder.empty()) return Status::Invalid("store: a build needs a builder");
    if (b->state.empty()) b->state = "running";
    r->state = "claimed";
    r->attempt = 1;
    r->worker = b->worker;
    r->claimed_at = now;
    if (r->submitted_at == 0) r->submitted_at = NowMs();
    b->attempt = 1;
    const bool pg = db_->dialect() == sql::Dialect::kPostgres;
    Query q;
    if (pg)
      GROVE_RETURN_IF_ERROR(db_->Prepare(kInsertClaimedRequestPg, &q));
    else
      GROVE_RETURN_IF_ERROR(db_->PrepareInsert(kInsertClaimedRequest, &q));
    BindRequestColumns(q, *r);
    q.Bind(13, master_);
    if (!pg) {
      GROVE_RETURN_IF_ERROR(q.RunInsert(&r->id));
      if (r->id == 0) return Status::IoError("store: request insert returned no row");
      q.Reset();
      b->request_id = r->id;
      // Claimed now: a build that cannot start leaves id 0 for the caller to start it again.
      if (!StartBuild(b).ok()) b->id = 0;
      return db_->TransactionStatus();
    }
    q.Bind(14, b->state)
        .Bind(15, b->result)
        .Bind(16, b->started_at)
        .Bind(17, b->finished_at)
        .Bind(18, Dump(b->properties));
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row || q.IsNull(0)) return Status::IoError("store: request insert returned no row");
    r->id = q.Int(0);
    b->request_id = r->id;
    b->number = q.Int(1);
    b->id = q.IsNull(2) ? 0 : q.Int(2);
    return Status::Ok();
  }

  Status FinishJobRows(const JobEnd& end) override {
    if (db_->dialect() != sql::Dialect::kPostgres || end.build_id == 0)
      return Store::FinishJobRows(end);
    const bool adopt = end.worker && end.properties;
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(adopt ? kAdoptFinishJobPg : kFinishJobPg, &q));
    q.Bind(1, end.build_id)
        .Bind(2, end.request_id)
        .Bind(3, static_cast<int64_t>(end.result))
        .Bind(4, end.now)
        .Bind(5, int64_t{end.step})
        .Bind(6, static_cast<int64_t>(end.step_result));
    if (adopt) q.Bind(7, *end.worker).Bind(8, Dump(*end.properties));
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::IoError("store: the end of a job returned no row");
    const bool step = q.Int(0) > 0, build = q.Int(1) > 0, request = q.Int(2) > 0;
    q.Reset();
    if (end.step >= 0 && !step) return StepNotFound(end.build_id, end.step);
    if (!build) return NotFound("build", end.build_id);
    if (!request) return NotFound("request", end.request_id);
    return Status::Ok();
  }

  Status ClaimRequest(int64_t id, const std::string& worker, int64_t now, int* attempt) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kClaimRequest, &q));
    q.Bind(1, id).Bind(2, worker).Bind(3, now).Bind(4, master_);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return WhyNotInState(id, "queued");
    *attempt = static_cast<int>(q.Int(0));
    return Status::Ok();
  }

  Status ClaimRequestRecords(const std::vector<int64_t>& ids, const std::string& worker,
                             int64_t now, std::vector<RequestRecord>* claimed) override {
    claimed->clear();
    for (size_t from = 0; from < ids.size();) {
      const size_t n = std::min(ids.size() - from, kClaimSizes[std::size(kClaimSizes) - 1]);
      size_t size = kClaimSizes[0];
      for (size_t s : kClaimSizes)
        if (s >= n) {
          size = s;
          break;
        }
      const std::string sql = ClaimSql(size);
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(sql, &q));
      q.Bind(1, worker).Bind(2, now).Bind(3, master_);
      for (size_t i = 0; i < size; ++i)
        q.Bind(static_cast<int>(i + 4), ids[from + std::min(i, n - 1)]);
      for (;;) {
        bool row = false;
        GROVE_RETURN_IF_ERROR(q.Step(&row));
        if (!row) break;
        RequestRecord r;
        GROVE_RETURN_IF_ERROR(ReadRequest(q, &r));
        claimed->push_back(std::move(r));
      }
      from += n;
    }
    return Status::Ok();
  }

  Status StartBuilds(std::vector<BuildRecord>* builds) override {
    // The numbers first, one statement per builder; then the builds, as StartBuild inserts them.
    std::map<std::string, std::pair<int64_t, int64_t>> numbers;  // builder -> (count, next)
    for (const BuildRecord& b : *builds) ++numbers[b.builder].first;
    for (auto& [builder, range] : numbers) {
      Query num;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kNextBuildNumbers, &num));
      num.Bind(1, builder).Bind(2, range.first);
      int64_t last = 0;
      GROVE_RETURN_IF_ERROR(StepReturning(num, &last, "build numbers"));
      range.second = last - range.first + 1;
    }
    std::vector<int64_t> taken;
    taken.reserve(builds->size());
    for (BuildRecord& b : *builds) {
      if (b.builder.empty()) return Status::Invalid("store: a build needs a builder");
      if (b.state.empty()) b.state = "running";
      b.id = 0;
      taken.push_back(numbers[b.builder].second++);
    }
    // Several rows per statement (sql_job_batch.cc).
    GROVE_RETURN_IF_ERROR(sql_job_batch::InsertBuilds(*db_, builds, taken));
    for (BuildRecord& b : *builds) {
      if (b.id != 0) continue;
      // The attempt had a build (it is the one), or the request is missing (none).
      if (!FindBuild(b.request_id, b.attempt, &b).ok()) b.id = 0;
      GROVE_RETURN_IF_ERROR(db_->TransactionStatus());
    }
    return Status::Ok();
  }

  Status RequeueRequest(int64_t id) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kRequeueRequest, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    return row ? Status::Ok() : WhyNotInState(id, "claimed");
  }

  Status FinishRequest(int64_t id, Result result, int64_t now) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kFinishRequest, &q));
    q.Bind(1, id).Bind(2, static_cast<int64_t>(result)).Bind(3, now);
    return UpdatedOne(q, "request", id);
  }

  // --- Builds ---

  Status StartBuild(BuildRecord* b) override {
    if (b->builder.empty()) return Status::Invalid("store: a build needs a builder");
    if (b->state.empty()) b->state = "running";
    // No savepoint: of the two writes, the insert can only fail with the transaction (a full
    // disk), and a number it did not use is given back below.
    Query num;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kNextBuildNumber, &num));
    num.Bind(1, b->builder);
    int64_t number = 0;
    GROVE_RETURN_IF_ERROR(StepReturning(num, &number, "build number"));
    num.Reset();

    Query q;
    GROVE_RETURN_IF_ERROR(db_->PrepareInsert(kInsertBuild, &q));
    q.Bind(1, b->request_id)
        .Bind(2, b->attempt)
        .Bind(3, b->builder)
        .Bind(4, number)
        .Bind(5, b->worker)
        .Bind(6, b->state)
        .Bind(7, b->result)
        .Bind(8, b->started_at)
        .Bind(9, b->finished_at)
        .Bind(10, Dump(b->properties));
    int64_t id = 0;
    GROVE_RETURN_IF_ERROR(q.RunInsert(&id));
    if (id != 0) {
      b->id = id;
      b->number = number;
      return Status::Ok();
    }
    q.Reset();
    Query back;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kGiveBackBuildNumber, &back));
    GROVE_RETURN_IF_ERROR(back.Bind(1, b->builder).Bind(2, number).Run());
    back.Reset();
    // A repeated start fills |b| with the build there is; else the request is missing.
    Status st = FindBuild(b->request_id, b->attempt, b);
    if (!st.IsNotFound()) return st;
    return RequireRequest(b->request_id);
  }

  Status FinishBuild(int64_t build_id, Result result, int64_t now) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kFinishBuild, &q));
    q.Bind(1, build_id).Bind(2, static_cast<int64_t>(result)).Bind(3, now);
    return UpdatedOne(q, "build", build_id);
  }

  Status SetBuildWorker(int64_t build_id, const std::string& worker) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kSetBuildWorker, &q));
    q.Bind(1, build_id).Bind(2, worker);
    return UpdatedOne(q, "build", build_id);
  }

  Status GetBuild(int64_t id, BuildRecord* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kGetBuild, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return NotFound("build", id);
    return ReadBuild(q, out);
  }

  Status FindBuild(int64_t request_id, int attempt, BuildRecord* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kFindBuild, &q));
    q.Bind(1, request_id).Bind(2, attempt);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) {
      return Status::NotFound("no build for request " + std::to_string(request_id) + " attempt " +
                              std::to_string(attempt));
    }
    return ReadBuild(q, out);
  }

  Status ListBuilds(const std::string& builder, int64_t before_number, int limit,
                    std::vector<BuildRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kListBuilds, &q));
    q.Bind(1, builder)
        .Bind(2, before_number > 0 ? before_number : kNoLimit)
        .Bind(3, LimitOf(limit));
    return ReadAll(q, out, ReadBuild);
  }

  Status BuildsOfRequest(int64_t request_id, std::vector<BuildRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kBuildsOfRequest, &q));
    q.Bind(1, request_id);
    return ReadAll(q, out, ReadBuild);
  }

  Status LastBuildsPerBuilder(int per_builder, std::vector<BuildRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kLastBuildsPerBuilder, &q));
    q.Bind(1, static_cast<int64_t>(per_builder));
    return ReadAll(q, out, ReadBuildSummary);
  }

  Status RunningBuilds(std::vector<BuildRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kRunningBuilds, &q));
    return ReadAll(q, out, ReadBuild);
  }

  // --- Steps ---

  Status StartStep(const StepRecord& s) override {
    if (s.idx < 0) return Status::Invalid("store: negative step index");
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kInsertStep, &q));
    q.Bind(1, s.build_id)
        .Bind(2, s.idx)
        .Bind(3, s.name)
        .Bind(4, s.state.empty() ? std::string_view("running") : std::string_view(s.state))
        .Bind(5, s.result)
        .Bind(6, s.started_at)
        .Bind(7, s.finished_at);
    int64_t inserted = 0;
    GROVE_RETURN_IF_ERROR(q.RunCounting(&inserted));
    if (inserted > 0) return Status::Ok();
    q.Reset();
    return RequireBuild(s.build_id);  // Ok: started before, nothing changes
  }

  Status StartStepWith(const StepRecord& s, const std::string& worker,
                       const Json& properties) override {
    if (db_->dialect() != sql::Dialect::kPostgres)
      return Store::StartStepWith(s, worker, properties);
    if (s.idx < 0) return Status::Invalid("store: negative step index");
    const bool unanswered = db_->InTransaction();
    Query q;
    GROVE_RETURN_IF_ERROR(
        db_->Prepare(unanswered ? kStartStepWithPgUnanswered : kStartStepWithPg, &q));
    q.Bind(1, s.build_id)
        .Bind(2, s.idx)
        .Bind(3, s.name)
        .Bind(4, s.state.empty() ? std::string_view("running") : std::string_view(s.state))
        .Bind(5, s.result)
        .Bind(6, s.started_at)
        .Bind(7, s.finished_at)
        .Bind(8, worker)
        .Bind(9, Dump(properties));
    if (unanswered) return q.RunDeferred();
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::IoError("store: a step's start returned no row");
    const bool build = q.Int(0) > 0;
    q.Reset();
    // No step inserted while the build is there: started before, nothing changes (StartStep).
    return build ? Status::Ok() : NotFound("build", s.build_id);
  }

  Status FinishStep(int64_t build_id, int idx, Result result, int64_t now) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kFinishStep, &q));
    q.Bind(1, build_id).Bind(2, idx).Bind(3, static_cast<int64_t>(result)).Bind(4, now);
    int64_t changed = 0;
    GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
    return changed > 0 ? Status::Ok() : StepNotFound(build_id, idx);
  }

  Status ListSteps(int64_t build_id, std::vector<StepRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kListSteps, &q));
    q.Bind(1, build_id);
    return ReadAll(q, out, ReadStep);
  }

  // --- Logs ---

  Status AppendLog(int64_t build_id, int idx, int64_t seq, std::string_view data) override {
    buffer_.clear();
    if (!data.empty()) GROVE_RETURN_IF_ERROR(codec_.Compress(data, &buffer_));
    return AppendChunk(build_id, idx, seq, buffer_, static_cast<int64_t>(data.size()),
                       CountLines(data));
  }

  Status AppendCompressedLog(int64_t build_id, int idx, int64_t seq, std::string_view zdata,
                             int64_t raw_size, int64_t lines) override {
    if (raw_size < 0 || lines < 0 || (raw_size == 0) != zdata.empty())
      return Status::Invalid("store: inconsistent compressed log chunk");
    return AppendChunk(build_id, idx, seq, zdata, raw_size, lines);
  }

  // Stores one compressed chunk (|zdata|, empty for an empty chunk) at the end of the step's log.
  Status AppendChunk(int64_t build_id, int idx, int64_t seq, std::string_view zdata,
                     int64_t raw_size, int64_t lines) {
    if (seq < 0) return Status::Invalid("store: negative log chunk sequence number");
    if (log_batch_) {
      sql_log::AppendOutcome o;
      GROVE_RETURN_IF_ERROR(log_batch_->Append(build_id, idx, seq, zdata, raw_size, lines, &o));
      if (!o.step_found) return StepNotFound(build_id, idx);
      if (seq > o.next_seq) return ChunkBeforeItsTurn(build_id, idx, seq, o.next_seq);
      return Status::Ok();  // stored now, or before (a redelivered chunk)
    }
    sql::WriteScope scope(db_.get());
    GROVE_RETURN_IF_ERROR(scope.Open());

    int64_t log_bytes = 0, log_lines = 0;
    {
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kStepLogSize, &q));
      q.Bind(1, build_id).Bind(2, idx);
      bool row = false;
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) return StepNotFound(build_id, idx);
      log_bytes = q.Int(0);
      log_lines = q.Int(1);
    }
    int64_t next = 0;
    GROVE_RETURN_IF_ERROR(NextLogSeq(build_id, idx, &next));
    if (seq < next) return Status::Ok();  // already stored: a redelivered chunk
    if (seq > next) {
      // Stored after the gap, the chunk would sit at the wrong place for good, and the gap
      // would never be noticed: refused, so the caller can get the missing chunks first.
      return ChunkBeforeItsTurn(build_id, idx, seq, next);
    }

    // An empty chunk adds no bytes but takes its seq: it is kept at a negative offset (unique
    // per seq), where no read looks, since two chunks cannot share a byte offset.
    const bool empty = raw_size == 0;
    {
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kInsertChunk, &q));
      q.Bind(1, build_id)
          .Bind(2, idx)
          .Bind(3, seq)
          .Bind(4, empty ? -1 - seq : log_bytes)
          .Bind(5, log_lines)
          .Bind(6, raw_size)
          .Bind(7, lines)
          .BindBlob(8, zdata);
      GROVE_RETURN_IF_ERROR(q.Run());
    }
    if (!empty) {
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kGrowStepLog, &q));
      q.Bind(1, build_id).Bind(2, idx).Bind(3, raw_size).Bind(4, lines);
      GROVE_RETURN_IF_ERROR(q.Run());
    }
    return scope.Commit();
  }

  Status NextLogSeq(int64_t build_id, int idx, int64_t* next) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kNextSeq, &q));
    q.Bind(1, build_id).Bind(2, idx);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    *next = row ? q.Int(0) : 0;
    return Status::Ok();
  }

  Status ReadLog(int64_t build_id, int idx, int64_t offset, int64_t max_bytes, std::string* out,
                 int64_t* total) override {
    out->clear();
    if (offset < 0 || max_bytes < 0) return Status::Invalid("store: negative log offset or size");
    int64_t size = 0;
    {
      Query q;
      GROVE_RETURN_IF_ERROR(db_->Prepare(kStepLogSize, &q));
      q.Bind(1, build_id).Bind(2, idx);
      bool row = false;
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) return StepNotFound(build_id, idx);
      size = q.Int(0);
    }
    *total = size;
    if (offset >= size || max_bytes == 0) return Status::Ok();
    // The log is append-only and its size was read first, so chunks appended meanwhile by
    // another connection are simply beyond |end|.
    const int64_t end = offset + std::min(max_bytes, size - offset);
    out->reserve(end - offset);

    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kReadChunks, &q));
    q.Bind(1, build_id).Bind(2, idx).Bind(3, offset).Bind(4, end);
    int64_t pos = -1;  // where the next chunk must start
    for (;;) {
      bool row = false;
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) break;
      const int64_t chunk_offset = q.Int(0);
      const int64_t raw_size = q.Int(1);
      if (pos >= 0 && chunk_offset != pos) break;  // a gap: reported below
      pos = chunk_offset + raw_size;
      const int64_t from = std::max(offset, chunk_offset) - chunk_offset;
      const int64_t to = std::min(end, pos) - chunk_offset;
      if (from == 0 && to == raw_size) {
        // The whole chunk is wanted: decompress it straight into the result.
        GROVE_RETURN_IF_ERROR(codec_.DecompressAppend(q.Blob(2), raw_size, out));
      } else {
        buffer_.clear();
        GROVE_RETURN_IF_ERROR(codec_.DecompressAppend(q.Blob(2), raw_size, &buffer_));
        out->append(buffer_, from, to - from);
      }
    }
    if (static_cast<int64_t>(out->size()) != end - offset) {
      out->clear();
      return Status::IoError("store: log of build " + std::to_string(build_id) + " step " +
                             std::to_string(idx) + " has missing chunks");
    }
    return Status::Ok();
  }

  // --- Workers ---

  Status UpsertWorker(const WorkerRecord& w) override {
    if (w.name.empty()) return Status::Invalid("store: a worker needs a name");
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kUpsertWorker, &q));
    q.Bind(1, w.name)
        .Bind(2, Dump(w.tags))
        .Bind(3, w.capacity)
        .Bind(4, w.connected ? 1 : 0)
        .Bind(5, w.paused ? 1 : 0)
        .Bind(6, w.last_seen)
        .Bind(7, w.master);
    return q.Run();
  }

  Status ReleaseWorker(const std::string& name, const std::string& master,
                       int64_t last_seen) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kReleaseWorker, &q));
    return q.Bind(1, name).Bind(2, master).Bind(3, last_seen).Run();
  }

  Status ResetWorker(const WorkerRecord& w, const std::string& self, int64_t live_since) override {
    if (w.name.empty()) return Status::Invalid("store: a worker needs a name");
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kConfigureWorker, &q));
    GROVE_RETURN_IF_ERROR(q.Bind(1, w.name).Bind(2, Dump(w.tags)).Bind(3, w.capacity).Run());
    Query reset;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kResetWorker, &reset));
    return reset.Bind(1, w.name).Bind(2, self).Bind(3, live_since).Run();
  }

  Status ListWorkers(std::vector<WorkerRecord>* out) override {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kListWorkers, &q));
    return ReadAll(q, out, ReadWorker);
  }

 private:
  // Steps an INSERT ... RETURNING that must produce one row, and reads its first column.
  static Status StepReturning(Query& q, int64_t* value, const char* what) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::IoError(std::string("store: ") + what + " returned no row");
    *value = q.Int(0);
    return Status::Ok();
  }

  // Runs an UPDATE (without RETURNING: see sql::Stmt::Changes): NotFound when it matched no
  // row.
  static Status UpdatedOne(Query& q, const char* what, int64_t id) {
    int64_t changed = 0;
    GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
    return changed > 0 ? Status::Ok() : NotFound(what, id);
  }

  static Status NotFresh(int64_t request_id) {
    return Status::Conflict("request " + std::to_string(request_id) +
                            " is not queued at its first attempt");
  }

  static Status ChunkBeforeItsTurn(int64_t build_id, int idx, int64_t seq, int64_t next) {
    return Status::Conflict("log chunk " + std::to_string(seq) + " of step " + std::to_string(idx) +
                            " of build " + std::to_string(build_id) + " arrived before chunk " +
                            std::to_string(next));
  }

  static Status StepNotFound(int64_t build_id, int idx) {
    return Status::NotFound("step " + std::to_string(idx) + " of build " +
                            std::to_string(build_id) + " not found");
  }

  // After a state transition matched no row: NotFound, or Conflict naming the actual state.
  Status WhyNotInState(int64_t id, const char* wanted) {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kRequestState, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return NotFound("request", id);
    return Status::Conflict("request " + std::to_string(id) + " is " + std::string(q.Text(0)) +
                            ", not " + wanted);
  }

  Status RequireRequest(int64_t id) {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kRequestState, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    return row ? Status::Ok() : NotFound("request", id);
  }

  Status RequireBuild(int64_t id) {
    Query q;
    GROVE_RETURN_IF_ERROR(db_->Prepare(kBuildExists, &q));
    q.Bind(1, id);
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    return row ? Status::Ok() : NotFound("build", id);
  }

  // Changes and scheduler state: the queries live in sql_changes.cc.
  Status AddChange(ChangeRecord* c) override { return sql_changes::AddChange(*db_, c); }
  Status ListChanges(int64_t before, int limit, std::vector<ChangeRecord>* out) override {
    return sql_changes::ListChanges(*db_, before, limit, out);
  }
  Status LatestChangeId(const std::string& repository, int64_t* id) override {
    return sql_changes::LatestChangeId(*db_, repository, id);
  }
  Status LastChangeRevision(const std::string& repository, const std::string& branch,
                            std::string* revision) override {
    return sql_changes::LastChangeRevision(*db_, repository, branch, revision);
  }
  Status RememberDelivery(const std::string& provider, const std::string& delivery, int64_t now,
                          int64_t keep_ms, bool* first) override {
    return sql_changes::RememberDelivery(*db_, provider, delivery, now, keep_ms, first);
  }
  Status LinkRequestChanges(int64_t request, const std::vector<int64_t>& ids) override {
    return sql_changes::LinkRequestChanges(*db_, request, ids);
  }
  Status ChangesOfRequest(int64_t request, std::vector<ChangeRecord>* out) override {
    return sql_changes::ChangesOfRequest(*db_, request, out);
  }
  Status GetSchedulerState(const std::string& name, SchedulerState* out) override {
    return sql_changes::GetSchedulerState(*db_, name, out);
  }
  Status PutSchedulerState(const std::string& name, const SchedulerState& state) override {
    return sql_changes::PutSchedulerState(*db_, name, state);
  }
  Status AdvanceSchedulerState(const std::string& name, const SchedulerState& state,
                               bool* advanced) override {
    return sql_changes::AdvanceSchedulerState(*db_, name, state, advanced);
  }

  // Pipelines: the queries live in sql_pipeline.cc.
  Status SetBuildProperties(int64_t build_id, const Json& properties) override {
    return sql_pipeline::SetBuildProperties(*db_, build_id, properties);
  }
  Status AdoptBuild(int64_t build_id, const std::string& worker, const Json& properties) override {
    return sql_pipeline::AdoptBuild(*db_, build_id, worker, properties);
  }
  Status RecordStep(const StepRecord& s) override { return sql_pipeline::RecordStep(*db_, s); }
  Status RecordSteps(const std::vector<StepRecord>& steps) override {
    return sql_job_batch::RecordSteps(*db_, steps);
  }
  Status FinishBuildsWith(const std::vector<BuildEnd>& ends) override {
    return sql_job_batch::FinishBuildsWith(*db_, ends);
  }
  Status FinishSteps(const std::vector<StepEnd>& ends) override {
    return sql_job_batch::FinishSteps(*db_, ends);
  }
  Status FinishJobs(const std::vector<StepRecord>& steps, const std::vector<StepEnd>& step_ends,
                    const std::vector<BuildEnd>& builds) override {
    // A few ends (a batch of events that ended one or two builds): a statement per job saves
    // PostgreSQL's per-statement work; many: several rows per statement saves more.
    if (db_->dialect() == sql::Dialect::kPostgres && !builds.empty() &&
        builds.size() < sql_job_batch::kFewJobEnds)
      return sql_job_batch::FinishFewJobs(*db_, steps, step_ends, builds);
    return Store::FinishJobs(steps, step_ends, builds);
  }
  Status FinishRequests(const std::vector<int64_t>& ids, Result result, int64_t now) override {
    return sql_job_batch::FinishRequests(*db_, ids, result, now);
  }
  Status ClaimFreshRequests(const std::vector<int64_t>& ids, const std::string& worker, int64_t now,
                            std::vector<int64_t>* claimed) override {
    return sql_job_batch::ClaimFreshRequests(*db_, ids, worker, now, master_, claimed);
  }
  Status FinishBuildWith(int64_t build_id, const std::string& worker, const Json& properties,
                         Result result, int64_t now) override {
    return sql_pipeline::FinishBuildWith(*db_, build_id, worker, properties, result, now);
  }
  Status FinishStepWithResult(int64_t build_id, int idx, Result result, int64_t now,
                              const Json& result_json) override {
    return sql_pipeline::FinishStepWithResult(*db_, build_id, idx, result, now, result_json);
  }
  Status SetStepTests(int64_t build_id, int idx, const Json& tests) override {
    return sql_pipeline::SetStepTests(*db_, build_id, idx, tests);
  }
  Status SetStepResult(int64_t build_id, int idx, const Json& result) override {
    return sql_pipeline::SetStepResult(*db_, build_id, idx, result);
  }
  Status ListBuildTests(int64_t build_id, std::vector<StepTestsRecord>* out) override {
    return sql_pipeline::ListBuildTests(*db_, build_id, out);
  }
  Status PutArtifact(const ArtifactRecord& a) override {
    return sql_pipeline::PutArtifact(*db_, a);
  }
  Status ListArtifacts(int64_t build_id, std::vector<ArtifactRecord>* out) override {
    return sql_pipeline::ListArtifacts(*db_, build_id, out);
  }
  Status GetArtifact(int64_t build_id, const std::string& path, ArtifactRecord* out) override {
    return sql_pipeline::GetArtifact(*db_, build_id, path, out);
  }
  Status SupersedeRequest(int64_t id, int64_t by, int64_t now) override {
    return sql_pipeline::SupersedeRequest(*db_, id, by, now);
  }
  Status SupersededBy(int64_t id, int64_t* by) override {
    return sql_pipeline::SupersededBy(*db_, id, by);
  }

  // --- Applied worker events (sql_worker_events.cc) --------------------------------------
  Status GetAppliedEvents(const std::string& worker, const std::string& instance,
                          int64_t* upto) override {
    return sql_worker_events::GetAppliedEvents(*db_, worker, instance, upto);
  }
  Status AdvanceAppliedEvents(const std::string& worker, const std::string& instance,
                              int64_t upto) override {
    return sql_worker_events::AdvanceAppliedEvents(*db_, worker, instance, upto);
  }

  // --- On-demand instances (sql_pool.cc) --------------------------------------------------
  Status PutPoolInstance(const PoolInstanceRecord& r) override {
    return sql_pool::PutPoolInstance(*db_, r);
  }
  Status DeletePoolInstance(const std::string& name) override {
    return sql_pool::DeletePoolInstance(*db_, name);
  }
  Status ListPoolInstances(std::vector<PoolInstanceRecord>* out) override {
    return sql_pool::ListPoolInstances(*db_, out);
  }

  // --- Notifications (sql_notify.cc) -----------------------------------------------------
  Status AddNotification(NotificationRecord* n) override {
    return sql_notify::AddNotification(*db_, n);
  }
  Status ClaimNotifications(const std::string& notifier, int64_t now, int limit,
                            std::vector<NotificationRecord>* out) override {
    return sql_notify::ClaimNotifications(*db_, notifier, now, limit, out);
  }
  Status DueNotifications(const std::string& notifier, int64_t now, int limit,
                          std::vector<int64_t>* ids) override {
    return sql_notify::DueNotifications(*db_, notifier, now, limit, ids);
  }
  Status UpdateNotification(const NotificationRecord& n) override {
    return sql_notify::UpdateNotification(*db_, n);
  }
  Status GetNotification(int64_t id, NotificationRecord* out) override {
    return sql_notify::GetNotification(*db_, id, out);
  }
  Status FindNotification(int64_t build_id, const std::string& notifier, const std::string& event,
                          NotificationRecord* out) override {
    return sql_notify::FindNotification(*db_, build_id, notifier, event, out);
  }
  Status ListNotifications(int64_t build_id, std::vector<NotificationRecord>* out) override {
    return sql_notify::ListNotifications(*db_, build_id, out);
  }
  Status NotifiersWithWork(std::vector<std::string>* out) override {
    return sql_notify::NotifiersWithWork(*db_, out);
  }
  Status RequeueSendingNotifications(int64_t now, const std::string& why, int* count) override {
    return sql_notify::RequeueSendingNotifications(*db_, now, why, count);
  }
  Status FailNotifications(const std::string& notifier, int64_t now,
                           const std::string& why) override {
    return sql_notify::FailNotifications(*db_, notifier, now, why);
  }

  // --- Several masters (sql_cluster.cc) -------------------------------------------------
  void SetMasterName(const std::string& name) override { master_ = name; }
  Status QueuedHeads(int limit, std::vector<RequestRecord>* out) override {
    return sql_cluster::QueuedHeads(*db_, limit, out);
  }
  Status ClaimedByOthers(const std::string& self, std::vector<ClaimedRequest>* out) override {
    return sql_cluster::ClaimedByOthers(*db_, self, out);
  }
  Status MoveRequest(int64_t id, int attempt, const std::string& worker, const std::string& from,
                     const std::string& to, bool* moved) override {
    return sql_cluster::MoveRequest(*db_, id, attempt, worker, from, to, moved);
  }
  Status RequeueOwnedRequest(int64_t id, int attempt, const std::string& master,
                             bool* requeued) override {
    return sql_cluster::RequeueOwnedRequest(*db_, id, attempt, master, requeued);
  }
  Status LiveMasters(int64_t since, std::vector<std::string>* out) override {
    return sql_cluster::LiveMasters(*db_, since, out);
  }
  Status SharedKey(const std::string& name, const std::string& proposed,
                   std::string* out) override {
    return sql_cluster::SharedKey(*db_, name, proposed, out);
  }

  std::unique_ptr<sql::Db> db_;
  sql_log::LogBatchingDb* log_batch_ = nullptr;  // db_, on PostgreSQL
  std::string master_;  // recorded on each claim (several masters; '' for a lone one's tests)
  LogCodec codec_;
  std::string buffer_;  // reused for compressed chunks and partly read ones
};

#undef GROVE_REQUEST_COLUMNS
#undef GROVE_BUILD_COLUMNS

}  // namespace

std::unique_ptr<Store> NewSqlStore(std::unique_ptr<sql::Db> db) {
  return std::make_unique<SqlStore>(std::move(db));
}

}  // namespace grove
