#include "store/migrations.h"

#include <span>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace grove::sql {
namespace {

struct Migration {
  int version;
  std::string_view sql;
};

// The DDL is shared by both engines except for two words, written as markers:
//   @ID@    an auto-assigned 64-bit primary key. SQLite's AUTOINCREMENT never reuses the id of
//           a deleted row, so a build's URL never comes to mean another build.
//   @BLOB@  a byte string column.
//   @JSONB@ @TEXT@  casts PostgreSQL needs around its JSON operators (TEXT column -> jsonb ->
//   TEXT).
// Timestamps are milliseconds since the epoch; Json values are TEXT; booleans are 0/1.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE requests (
  id @ID@,
  builder TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  properties TEXT NOT NULL DEFAULT '{}',
  source TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  attempt BIGINT NOT NULL DEFAULT 0,
  priority BIGINT NOT NULL DEFAULT 0,
  worker TEXT NOT NULL DEFAULT '',
  result BIGINT NOT NULL DEFAULT -1,
  submitted_at BIGINT NOT NULL DEFAULT 0,
  claimed_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0
);
-- ListRequests: the queue in dispatch order, read straight off the index.
CREATE INDEX requests_by_state ON requests (state, priority DESC, id);

-- The last build number given out per builder; numbers are never reused.
CREATE TABLE builder_numbers (
  builder TEXT PRIMARY KEY,
  last_number BIGINT NOT NULL
);

-- UNIQUE (request_id, attempt) makes StartBuild idempotent and serves BuildsOfRequest;
-- UNIQUE (builder, number) serves ListBuilds (newest first is a backward index scan).
CREATE TABLE builds (
  id @ID@,
  request_id BIGINT NOT NULL REFERENCES requests (id),
  attempt BIGINT NOT NULL,
  builder TEXT NOT NULL,
  number BIGINT NOT NULL,
  worker TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  result BIGINT NOT NULL DEFAULT -1,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  properties TEXT NOT NULL DEFAULT '{}',
  UNIQUE (request_id, attempt),
  UNIQUE (builder, number)
);
-- RunningBuilds: a partial index stays as small as the set of running builds.
CREATE INDEX builds_running ON builds (id) WHERE state = 'running';

CREATE TABLE steps (
  build_id BIGINT NOT NULL REFERENCES builds (id),
  idx BIGINT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  result BIGINT NOT NULL DEFAULT -1,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  log_bytes BIGINT NOT NULL DEFAULT 0,
  log_lines BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (build_id, idx)
);

-- One row per zstd-compressed chunk of a step's log. The data column comes last so reading
-- the other columns never needs to walk the blob.
CREATE TABLE log_chunks (
  build_id BIGINT NOT NULL,
  idx BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  byte_offset BIGINT NOT NULL,
  line_offset BIGINT NOT NULL,
  raw_size BIGINT NOT NULL,
  lines BIGINT NOT NULL,
  data @BLOB@ NOT NULL,
  PRIMARY KEY (build_id, idx, seq),
  FOREIGN KEY (build_id, idx) REFERENCES steps (build_id, idx)
);
-- ReadLog: the chunk holding a byte offset is the one with the largest byte_offset <= it.
CREATE UNIQUE INDEX log_chunks_by_offset ON log_chunks (build_id, idx, byte_offset);

CREATE TABLE workers (
  name TEXT PRIMARY KEY,
  tags TEXT NOT NULL DEFAULT '[]',
  capacity BIGINT NOT NULL DEFAULT 1,
  connected BIGINT NOT NULL DEFAULT 0,
  paused BIGINT NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL DEFAULT 0
);
)sql"},
    // 2: schedulers and change sources (issue 3).
    {2, R"sql(
-- Per scheduler (and per git poller, key "git:URL"): the last slot fired, so that a restart
-- never fires a slot twice, and small JSON state (last change seen, known branch heads).
CREATE TABLE scheduler_state (
  name TEXT PRIMARY KEY,
  last_fire BIGINT NOT NULL DEFAULT 0,
  data TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE changes (
  id @ID@,
  source TEXT NOT NULL DEFAULT '',
  repository TEXT NOT NULL DEFAULT '',
  branch TEXT NOT NULL DEFAULT '',
  revision TEXT NOT NULL DEFAULT '',
  author TEXT NOT NULL DEFAULT '',
  committed_at BIGINT NOT NULL DEFAULT 0,
  comments TEXT NOT NULL DEFAULT '',
  files TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX changes_by_repository ON changes (repository, id);

-- The changes a request was made for; its builds show them.
CREATE TABLE request_changes (
  request_id BIGINT NOT NULL REFERENCES requests (id),
  change_id BIGINT NOT NULL REFERENCES changes (id),
  PRIMARY KEY (request_id, change_id)
);
)sql"},
    // 3: pipelines (issue 4): test results, artifacts, superseded requests.
    {3, R"sql(
CREATE TABLE step_tests (
  build_id BIGINT NOT NULL,
  idx BIGINT NOT NULL,
  tests TEXT NOT NULL,
  PRIMARY KEY (build_id, idx)
);

CREATE TABLE artifacts (
  build_id BIGINT NOT NULL REFERENCES builds (id),
  path TEXT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (build_id, path)
);

CREATE TABLE request_superseded (
  request_id BIGINT PRIMARY KEY REFERENCES requests (id),
  by_request BIGINT NOT NULL
);
)sql"},
    // 4: a consume step's result gets its own column; results stored before (in step_tests,
    // as {"result_json": ...}) move there.
    {4, R"sql(
ALTER TABLE steps ADD COLUMN result_json TEXT;
UPDATE steps SET result_json = (
  SELECT (t.tests@JSONB@ -> 'result_json')@TEXT@ FROM step_tests t
  WHERE t.build_id = steps.build_id AND t.idx = steps.idx)
WHERE (build_id, idx) IN (
  SELECT build_id, idx FROM step_tests WHERE tests LIKE '{"result_json":%');
DELETE FROM step_tests WHERE tests LIKE '{"result_json":%';
)sql"},
    // 5: webhook deliveries already received (issue 15), so a provider's retry or redelivery
    // records nothing twice, across restarts; and the newest change of a branch, read for every
    // change batch to drop revisions another change source already recorded.
    {5, R"sql(
CREATE TABLE webhook_deliveries (
  provider TEXT NOT NULL,
  delivery TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (provider, delivery)
);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
CREATE INDEX changes_by_branch ON changes (repository, branch, id);
)sql"},
    // 6: notifiers (issue 11): the durable outbox. A row is written in the transaction that
    // starts or finishes its build, and walks pending -> sending -> sent | retrying | failed
    // (or superseded: a start notice overtaken by the build's end).
    {6, R"sql(
CREATE TABLE notifications (
  id @ID@,
  build_id BIGINT NOT NULL REFERENCES builds (id),
  notifier TEXT NOT NULL,
  kind TEXT NOT NULL,
  event TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL DEFAULT 0,
  answer TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL DEFAULT 0,
  sent_at BIGINT NOT NULL DEFAULT 0,
  UNIQUE (build_id, notifier, event)
);
-- The delivery side's question, per notifier: what is due now?
CREATE INDEX notifications_due ON notifications (notifier, state, next_at);
)sql"},
    // 7: several masters on one store (issue 10). Each master heart-beats its row in
    // `masters`; a lease (the schedulers, the git poller) is held by the master named in
    // `holder` until `expires_at` (ms), renewed by one atomic upsert (cluster/cluster.cc).
    {7, R"sql(
CREATE TABLE masters (
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL DEFAULT '',
  started_at BIGINT NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL DEFAULT 0,
  config_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
)sql"},
    // 8: several masters in distributed mode (issue 10). The last event id of each worker
    // process that a master applied, written in the transaction that applies the events, so
    // that a master taking over the RabbitMQ events queue skips what another one applied but
    // could not acknowledge (controller_amqp.cc).
    {8, R"sql(
CREATE TABLE worker_events (
  worker TEXT PRIMARY KEY,
  instance TEXT NOT NULL,
  applied_upto BIGINT NOT NULL
);
)sql"},
    // 9: requests shared by several masters (issue 10). `master` names the master that owns a
    // claimed request's running attempt (it claimed it, or adopted it from a worker that came to
    // it, or from a master gone); `cluster_keys` holds the keys every master signs job and
    // artifact tokens with, so a job's tokens stay valid wherever its worker reconnects.
    {9, R"sql(
ALTER TABLE requests ADD COLUMN master TEXT NOT NULL DEFAULT '';
CREATE TABLE cluster_keys (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
    // 10: on-demand workers (issue 13): the instances a master started and has not stopped, so
    // a restarted master adopts them (or stops them) instead of starting duplicates.
    {10, R"sql(
CREATE TABLE pool_instances (
  name TEXT PRIMARY KEY,
  pool TEXT NOT NULL,
  instance TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL DEFAULT 0
);
)sql"},
    // 11: the workers as every master sees them (issue 10). `master` names the master a worker
    // is connected to ('' when none), so the others list it, and a restarting master leaves the
    // workers of the live others connected.
    {11, R"sql(
ALTER TABLE workers ADD COLUMN master TEXT NOT NULL DEFAULT '';
)sql"},
};

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size()))
    s->replace(pos, from.size(), to);
}

std::string ForDialect(std::string_view ddl, Dialect dialect) {
  std::string out(ddl);
  if (dialect == Dialect::kSqlite) {
    ReplaceAll(&out, "@ID@", "INTEGER PRIMARY KEY AUTOINCREMENT");
    ReplaceAll(&out, "@BLOB@", "BLOB");
    ReplaceAll(&out, "@JSONB@", "");  // SQLite's -> reads JSON text
    ReplaceAll(&out, "@TEXT@", "");
  } else {
    ReplaceAll(&out, "@ID@", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
    ReplaceAll(&out, "@BLOB@", "BYTEA");
    ReplaceAll(&out, "@JSONB@", "::jsonb");
    ReplaceAll(&out, "@TEXT@", "::text");
  }
  return out;
}

Status CurrentVersion(Db* db, int64_t* version) {
  Query q;
  GROVE_RETURN_IF_ERROR(db->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version", &q));
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *version = row ? q.Int(0) : 0;
  return Status::Ok();
}

Status Apply(Db* db, std::span<const Migration> migrations, int* applied) {
  GROVE_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS schema_version ("
               "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"));
  int64_t version = 0;
  GROVE_RETURN_IF_ERROR(CurrentVersion(db, &version));
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (version > latest) {
    return Status::Invalid("the store has schema version " + std::to_string(version) +
                           " but this Grove knows only up to " + std::to_string(latest) +
                           "; upgrade Grove");
  }
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    Status st = db->Exec(ForDialect(m.sql, db->dialect()));
    if (!st.ok()) {
      return Status::IoError("schema migration " + std::to_string(m.version) +
                             " failed: " + st.message());
    }
    Query q;
    GROVE_RETURN_IF_ERROR(
        db->Prepare("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", &q));
    GROVE_RETURN_IF_ERROR(q.Bind(1, m.version).Bind(2, NowMs()).Run());
    ++*applied;
  }
  return Status::Ok();
}

}  // namespace

int LatestSchemaVersion() {
  return std::end(kMigrations)[-1].version;
}

Status MigrateStore(Db* db, int* applied) {
  int count = 0;
  // The common case, an up-to-date schema, is settled by a read: every reader thread opens
  // the store, and none of them should have to wait for the write lock to find that out.
  // (A failure here, e.g. no schema_version table yet, just means: migrate.)
  int64_t version = 0;
  if (CurrentVersion(db, &version).ok() && version == LatestSchemaVersion()) {
    if (applied != nullptr) *applied = 0;
    return Status::Ok();
  }
  GROVE_RETURN_IF_ERROR(db->BeginWrite());
  Status st = Status::Ok();
  // SQLite's BEGIN IMMEDIATE already keeps a second process out; PostgreSQL's transaction does
  // not, so two masters starting on a new database take a lock (released at commit) first.
  if (db->dialect() == Dialect::kPostgres) st = db->Exec("SELECT pg_advisory_xact_lock(4747)");
  if (st.ok()) st = Apply(db, kMigrations, &count);
  if (st.ok()) st = db->Commit();
  if (!st.ok()) {
    if (db->InTransaction()) (void)db->Rollback();
    return st;
  }
  if (applied != nullptr) *applied = count;
  return Status::Ok();
}

}  // namespace grove::sql
