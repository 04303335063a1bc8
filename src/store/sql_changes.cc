#include "store/sql_changes.h"

#include <limits>

#include "core/clock.h"

namespace grove {

// Defaults for Store implementations without changes (test doubles).
Status Store::AddChange(ChangeRecord*) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::ListChanges(int64_t, int, std::vector<ChangeRecord>*) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::LatestChangeId(const std::string&, int64_t*) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::LastChangeRevision(const std::string&, const std::string&, std::string*) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::RememberDelivery(const std::string&, const std::string&, int64_t, int64_t, bool*) {
  return Status::Unavailable("store: webhook deliveries are not supported");
}
Status Store::LinkRequestChanges(int64_t, const std::vector<int64_t>&) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::ChangesOfRequest(int64_t, std::vector<ChangeRecord>*) {
  return Status::Unavailable("store: changes are not supported");
}
Status Store::GetSchedulerState(const std::string&, SchedulerState*) {
  return Status::Unavailable("store: scheduler state is not supported");
}
Status Store::PutSchedulerState(const std::string&, const SchedulerState&) {
  return Status::Unavailable("store: scheduler state is not supported");
}

Status Store::AdvanceSchedulerState(const std::string&, const SchedulerState&, bool*) {
  return Status::Unavailable("store: scheduler state is not supported");
}

namespace sql_changes {
namespace {

using sql::Query;

#define GROVE_CHANGE_COLUMNS                                                          \
  "id, source, repository, branch, revision, author, committed_at, comments, files, " \
  "created_at"

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void ReadChange(Query& q, ChangeRecord* c) {
  c->id = q.Int(0);
  c->source = q.Text(1);
  c->repository = q.Text(2);
  c->branch = q.Text(3);
  c->revision = q.Text(4);
  c->author = q.Text(5);
  c->committed_at = q.Int(6);
  c->comments = q.Text(7);
  std::string_view files = q.Text(8);
  Json j = Json::parse(files.begin(), files.end(), nullptr, false);
  c->files.clear();
  if (j.is_array())
    for (const Json& f : j)
      if (f.is_string()) c->files.push_back(f.get<std::string>());
  c->created_at = q.Int(9);
}

Status ReadAll(Query& q, std::vector<ChangeRecord>* out) {
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    ChangeRecord c;
    ReadChange(q, &c);
    out->push_back(std::move(c));
  }
}

}  // namespace

Status AddChange(sql::Db& db, ChangeRecord* c) {
  if (c->created_at == 0) c->created_at = NowMs();
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO changes (source, repository, branch, revision, author, committed_at, "
      "comments, files, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
      &q));
  q.Bind(1, c->source)
      .Bind(2, c->repository)
      .Bind(3, c->branch)
      .Bind(4, c->revision)
      .Bind(5, c->author)
      .Bind(6, c->committed_at)
      .Bind(7, c->comments)
      .Bind(8, Dump(Json(c->files)))
      .Bind(9, c->created_at);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::IoError("store: INSERT INTO changes returned no id");
  c->id = q.Int(0);
  return Status::Ok();
}

Status ListChanges(sql::Db& db, int64_t before_id, int limit, std::vector<ChangeRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "SELECT " GROVE_CHANGE_COLUMNS " FROM changes WHERE id < $1 ORDER BY id DESC LIMIT $2", &q));
  q.Bind(1, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
      .Bind(2, limit > 0 ? int64_t{limit} : std::numeric_limits<int64_t>::max());
  return ReadAll(q, out);
}

Status LatestChangeId(sql::Db& db, const std::string& repository, int64_t* id) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT COALESCE(MAX(id), 0) FROM changes WHERE repository = $1", &q));
  q.Bind(1, repository);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *id = row ? q.Int(0) : 0;
  return Status::Ok();
}

Status LastChangeRevision(sql::Db& db, const std::string& repository, const std::string& branch,
                          std::string* revision) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT revision FROM changes WHERE repository = $1 AND branch = $2 "
                 "ORDER BY id DESC LIMIT 1",
                 &q));
  q.Bind(1, repository).Bind(2, branch);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *revision = row ? std::string(q.Text(0)) : "";
  return Status::Ok();
}

Status RememberDelivery(sql::Db& db, const std::string& provider, const std::string& delivery,
                        int64_t now, int64_t keep_ms, bool* first) {
  {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare("DELETE FROM webhook_deliveries WHERE received_at < $1", &q));
    GROVE_RETURN_IF_ERROR(q.Bind(1, now - keep_ms).Run());
  }
  // One statement, so that two masters on one PostgreSQL store cannot both see it as new.
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("INSERT INTO webhook_deliveries (provider, delivery, received_at) "
                 "VALUES ($1, $2, $3) ON CONFLICT (provider, delivery) DO NOTHING "
                 "RETURNING received_at",
                 &q));
  q.Bind(1, provider).Bind(2, delivery).Bind(3, now);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *first = row;
  return Status::Ok();
}

Status LinkRequestChanges(sql::Db& db, int64_t request_id, const std::vector<int64_t>& ids) {
  for (int64_t change : ids) {
    Query q;
    GROVE_RETURN_IF_ERROR(
        db.Prepare("INSERT INTO request_changes (request_id, change_id) VALUES ($1, $2) "
                   "ON CONFLICT (request_id, change_id) DO NOTHING",
                   &q));
    GROVE_RETURN_IF_ERROR(q.Bind(1, request_id).Bind(2, change).Run());
  }
  return Status::Ok();
}

Status ChangesOfRequest(sql::Db& db, int64_t request_id, std::vector<ChangeRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "SELECT c.id, c.source, c.repository, c.branch, c.revision, c.author, c.committed_at, "
      "c.comments, c.files, c.created_at FROM changes c JOIN request_changes rc "
      "ON rc.change_id = c.id WHERE rc.request_id = $1 ORDER BY c.id",
      &q));
  q.Bind(1, request_id);
  return ReadAll(q, out);
}

Status GetSchedulerState(sql::Db& db, const std::string& name, SchedulerState* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT last_fire, data FROM scheduler_state WHERE name = $1", &q));
  q.Bind(1, name);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::NotFound("no state for scheduler " + name);
  out->last_fire = q.Int(0);
  std::string_view data = q.Text(1);
  Json j = Json::parse(data.begin(), data.end(), nullptr, false);
  out->data = j.is_object() ? j : Json::object();
  return Status::Ok();
}

Status PutSchedulerState(sql::Db& db, const std::string& name, const SchedulerState& state) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO scheduler_state (name, last_fire, data) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET last_fire = excluded.last_fire, data = excluded.data",
      &q));
  return q.Bind(1, name).Bind(2, state.last_fire).Bind(3, Dump(state.data)).Run();
}

Status AdvanceSchedulerState(sql::Db& db, const std::string& name, const SchedulerState& state,
                             bool* advanced) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO scheduler_state (name, last_fire, data) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET last_fire = excluded.last_fire, data = excluded.data "
      "WHERE scheduler_state.last_fire < excluded.last_fire RETURNING name",
      &q));
  q.Bind(1, name).Bind(2, state.last_fire).Bind(3, Dump(state.data));
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *advanced = row;
  return Status::Ok();
}

#undef GROVE_CHANGE_COLUMNS

}  // namespace sql_changes
}  // namespace grove
