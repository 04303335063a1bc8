#include "store/sql_pipeline.h"

namespace grove {

// Defaults for Store implementations without pipelines (test doubles).
Status Store::SetBuildProperties(int64_t, const Json&) {
  return Status::Unavailable("store: build properties are not supported");
}
Status Store::AdoptBuild(int64_t build_id, const std::string& worker, const Json& properties) {
  GROVE_RETURN_IF_ERROR(SetBuildWorker(build_id, worker));
  return SetBuildProperties(build_id, properties);
}
Status Store::FinishStepWithResult(int64_t build_id, int idx, Result result, int64_t now,
                                   const Json& result_json) {
  GROVE_RETURN_IF_ERROR(FinishStep(build_id, idx, result, now));
  return SetStepResult(build_id, idx, result_json);
}
Status Store::RecordStep(const StepRecord& s) {
  StepRecord running = s;
  running.state = "running";
  GROVE_RETURN_IF_ERROR(StartStep(running));
  const Result r = static_cast<Result>(s.result);
  if (s.result_json.is_null()) return FinishStep(s.build_id, s.idx, r, s.finished_at);
  return FinishStepWithResult(s.build_id, s.idx, r, s.finished_at, s.result_json);
}
Status Store::FinishBuildWith(int64_t build_id, const std::string& worker, const Json& properties,
                              Result result, int64_t now) {
  GROVE_RETURN_IF_ERROR(AdoptBuild(build_id, worker, properties));
  return FinishBuild(build_id, result, now);
}
Status Store::SetStepTests(int64_t, int, const Json&) {
  return Status::Unavailable("store: test results are not supported");
}
Status Store::SetStepResult(int64_t, int, const Json&) {
  return Status::Unavailable("store: consumer results are not supported");
}
Status Store::ListBuildTests(int64_t, std::vector<StepTestsRecord>*) {
  return Status::Unavailable("store: test results are not supported");
}
Status Store::PutArtifact(const ArtifactRecord&) {
  return Status::Unavailable("store: artifacts are not supported");
}
Status Store::ListArtifacts(int64_t, std::vector<ArtifactRecord>*) {
  return Status::Unavailable("store: artifacts are not supported");
}
Status Store::GetArtifact(int64_t, const std::string&, ArtifactRecord*) {
  return Status::Unavailable("store: artifacts are not supported");
}
Status Store::SupersedeRequest(int64_t, int64_t, int64_t) {
  return Status::Unavailable("store: collapsing requests is not supported");
}
Status Store::SupersededBy(int64_t, int64_t* by) {
  *by = 0;
  return Status::Ok();
}

namespace sql_pipeline {
namespace {

using sql::Query;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Runs an UPDATE without RETURNING (sql::Stmt::Changes says why): NotFound when it matched no
// row.
Status UpdatedOne(Query& q, const std::string& what) {
  int64_t changed = 0;
  GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
  if (changed == 0) return Status::NotFound(what + " not found");
  return Status::Ok();
}

void ReadArtifact(Query& q, ArtifactRecord* a) {
  a->build_id = q.Int(0);
  a->path = std::string(q.Text(1));
  a->size = q.Int(2);
  a->sha256 = std::string(q.Text(3));
  a->created_at = q.Int(4);
}

}  // namespace

Status SetBuildProperties(sql::Db& db, int64_t build_id, const Json& properties) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare("UPDATE builds SET properties = $2 WHERE id = $1", &q));
  q.Bind(1, build_id).Bind(2, Dump(properties));
  return UpdatedOne(q, "build " + std::to_string(build_id));
}

Status AdoptBuild(sql::Db& db, int64_t build_id, const std::string& worker,
                  const Json& properties) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE builds SET worker = $2, properties = $3 WHERE id = $1", &q));
  q.Bind(1, build_id).Bind(2, worker).Bind(3, Dump(properties));
  return UpdatedOne(q, "build " + std::to_string(build_id));
}

Status FinishStepWithResult(sql::Db& db, int64_t build_id, int idx, Result result, int64_t now,
                            const Json& result_json) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE steps SET state = 'finished', result = $3, finished_at = $4, "
                 "result_json = $5 WHERE build_id = $1 AND idx = $2",
                 &q));
  q.Bind(1, build_id)
      .Bind(2, int64_t{idx})
      .Bind(3, static_cast<int64_t>(result))
      .Bind(4, now)
      .Bind(5, Dump(result_json));
  return UpdatedOne(q, "step " + std::to_string(idx) + " of build " + std::to_string(build_id));
}

// COALESCE: a resent end without a result keeps the one stored, as FinishStep does.
Status RecordStep(sql::Db& db, const StepRecord& s) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at, "
      "result_json) SELECT $1, $2, $3, 'finished', $4, $5, $6, $7 "
      "WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1) "
      "ON CONFLICT (build_id, idx) DO UPDATE SET state = 'finished', result = excluded.result, "
      "finished_at = excluded.finished_at, "
      "result_json = COALESCE(excluded.result_json, steps.result_json)",
      &q));
  q.Bind(1, s.build_id)
      .Bind(2, int64_t{s.idx})
      .Bind(3, s.name)
      .Bind(4, int64_t{s.result})
      .Bind(5, s.started_at)
      .Bind(6, s.finished_at);
  if (s.result_json.is_null())
    q.BindNull(7);
  else
    q.Bind(7, Dump(s.result_json));
  return UpdatedOne(q, "build " + std::to_string(s.build_id));
}

Status FinishBuildWith(sql::Db& db, int64_t build_id, const std::string& worker,
                       const Json& properties, Result result, int64_t now) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE builds SET worker = $2, properties = $3, state = 'finished', "
                 "result = $4, finished_at = $5 WHERE id = $1",
                 &q));
  q.Bind(1, build_id)
      .Bind(2, worker)
      .Bind(3, Dump(properties))
      .Bind(4, static_cast<int64_t>(result))
      .Bind(5, now);
  return UpdatedOne(q, "build " + std::to_string(build_id));
}

Status SetStepTests(sql::Db& db, int64_t build_id, int idx, const Json& tests) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("INSERT INTO step_tests (build_id, idx, tests) VALUES ($1, $2, $3) "
                 "ON CONFLICT (build_id, idx) DO UPDATE SET tests = excluded.tests",
                 &q));
  return q.Bind(1, build_id).Bind(2, int64_t{idx}).Bind(3, Dump(tests)).Run();
}

Status SetStepResult(sql::Db& db, int64_t build_id, int idx, const Json& result) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE steps SET result_json = $3 WHERE build_id = $1 AND idx = $2", &q));
  q.Bind(1, build_id).Bind(2, int64_t{idx}).Bind(3, Dump(result));
  int64_t changed = 0;
  GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
  if (changed == 0)
    return Status::NotFound("store: build " + std::to_string(build_id) + " has no step " +
                            std::to_string(idx));
  return Status::Ok();
}

Status ListBuildTests(sql::Db& db, int64_t build_id, std::vector<StepTestsRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT idx, tests FROM step_tests WHERE build_id = $1 ORDER BY idx", &q));
  q.Bind(1, build_id);
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    StepTestsRecord r;
    r.idx = static_cast<int>(q.Int(0));
    std::string_view text = q.Text(1);
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    r.tests = j.is_object() ? j : Json::object();
    out->push_back(std::move(r));
  }
}

Status PutArtifact(sql::Db& db, const ArtifactRecord& a) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO artifacts (build_id, path, size, sha256, created_at) VALUES ($1, $2, $3, $4, "
      "$5) ON CONFLICT (build_id, path) DO UPDATE SET size = excluded.size, sha256 = "
      "excluded.sha256, created_at = excluded.created_at",
      &q));
  return q.Bind(1, a.build_id)
      .Bind(2, a.path)
      .Bind(3, a.size)
      .Bind(4, a.sha256)
      .Bind(5, a.created_at)
      .Run();
}

Status ListArtifacts(sql::Db& db, int64_t build_id, std::vector<ArtifactRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "SELECT build_id, path, size, sha256, created_at FROM artifacts WHERE build_id = $1 "
      "ORDER BY path",
      &q));
  q.Bind(1, build_id);
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    ArtifactRecord a;
    ReadArtifact(q, &a);
    out->push_back(std::move(a));
  }
}

Status GetArtifact(sql::Db& db, int64_t build_id, const std::string& path, ArtifactRecord* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "SELECT build_id, path, size, sha256, created_at FROM artifacts WHERE build_id = $1 AND "
      "path = $2",
      &q));
  q.Bind(1, build_id).Bind(2, path);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row)
    return Status::NotFound("build " + std::to_string(build_id) + " has no artifact " + path);
  ReadArtifact(q, out);
  return Status::Ok();
}

Status SupersedeRequest(sql::Db& db, int64_t id, int64_t by, int64_t now) {
  sql::WriteScope scope(&db);
  GROVE_RETURN_IF_ERROR(scope.Open());
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE requests SET state = 'superseded', result = $2, finished_at = $3 "
                 "WHERE id = $1 AND (state = 'queued') IS TRUE RETURNING id",
                 &q));
  q.Bind(1, id).Bind(2, static_cast<int64_t>(Result::kSkipped)).Bind(3, now);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::Conflict("request " + std::to_string(id) + " is not queued");
  q.Reset();
  Query link;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("INSERT INTO request_superseded (request_id, by_request) VALUES ($1, $2) "
                 "ON CONFLICT (request_id) DO UPDATE SET by_request = excluded.by_request",
                 &link));
  GROVE_RETURN_IF_ERROR(link.Bind(1, id).Bind(2, by).Run());
  return scope.Commit();
}

Status SupersededBy(sql::Db& db, int64_t id, int64_t* by) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT by_request FROM request_superseded WHERE request_id = $1", &q));
  q.Bind(1, id);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *by = row ? q.Int(0) : 0;
  return Status::Ok();
}

}  // namespace sql_pipeline
}  // namespace grove
