// OpenStore: from a store URL to an open, migrated Store.
#include "store/store.h"

#include <filesystem>
#include <system_error>

#include "store/migrations.h"
#include "store/pg_db.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"

namespace grove {
namespace {

Status OpenSqlite(const std::string& path_text, const std::string& base_dir,
                  std::unique_ptr<sql::Db>* out) {
  namespace fs = std::filesystem;
  if (path_text.empty()) return Status::Invalid("store url 'sqlite:' needs a file path");
  std::string file = path_text;
  if (path_text != ":memory:") {
    fs::path path(path_text);
    if (path.is_relative() && !base_dir.empty()) path = fs::path(base_dir) / path;
    std::error_code ec;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return Status::IoError("cannot create the store's directory " + path.parent_path().string() +
                             ": " + ec.message());
    }
    file = path.string();
  }
  std::unique_ptr<sql::Db> db;
  GROVE_RETURN_IF_ERROR(sql::OpenSqliteDb(file, &db));
  Status st = sql::MigrateStore(db.get());
  if (!st.ok()) {
    return st.IsInvalid() ? Status::Invalid(file + ": " + st.message())
                          : Status::IoError(file + ": " + st.message());
  }
  *out = std::move(db);
  return Status::Ok();
}

Status OpenPostgres(const std::string& url, const std::string& password,
                    std::unique_ptr<sql::Db>* out) {
  std::unique_ptr<sql::Db> db;
  GROVE_RETURN_IF_ERROR(sql::OpenPostgresDb(url, password, &db));
  Status st = sql::MigrateStore(db.get());
  if (!st.ok()) {
    const std::string where = sql::RedactPostgresUrl(url) + ": ";
    switch (st.code()) {
      case Status::Code::kInvalid:
        return Status::Invalid(where + st.message());
      case Status::Code::kUnavailable:
        return st;  // names the URL already
      default:
        return Status::IoError(where + st.message());
    }
  }
  *out = std::move(db);
  return Status::Ok();
}

}  // namespace

Status OpenStore(const std::string& url, const std::string& base_dir, std::unique_ptr<Store>* out,
                 const std::string& password) {
  std::unique_ptr<sql::Db> db;
  GROVE_RETURN_IF_ERROR(OpenMigratedDb(url, base_dir, password, &db));
  *out = NewSqlStore(std::move(db));
  return Status::Ok();
}

Status Store::ClaimRequestRecord(int64_t id, const std::string& worker, int64_t now,
                                 RequestRecord* claimed) {
  int attempt = 0;
  GROVE_RETURN_IF_ERROR(ClaimRequest(id, worker, now, &attempt));
  return GetRequest(id, claimed);
}

Status Store::ClaimFreshRequest(int64_t now, BuildRecord* b) {
  RequestRecord r;
  GROVE_RETURN_IF_ERROR(GetRequest(b->request_id, &r));
  if (r.state != "queued" || r.attempt != 0)
    return Status::Conflict("request " + std::to_string(b->request_id) + " is not fresh");
  int attempt = 0;
  GROVE_RETURN_IF_ERROR(ClaimRequest(b->request_id, b->worker, now, &attempt));
  b->attempt = attempt;
  if (!StartBuild(b).ok()) b->id = 0;
  return TransactionStatus();
}

Status Store::AddClaimedRequest(int64_t now, RequestRecord* r, BuildRecord* b) {
  r->attempt = 0;
  GROVE_RETURN_IF_ERROR(AddRequest(r));
  b->request_id = r->id;
  GROVE_RETURN_IF_ERROR(ClaimFreshRequest(now, b));
  r->state = "claimed";
  r->attempt = b->attempt;
  r->worker = b->worker;
  r->claimed_at = now;
  return Status::Ok();
}

Status Store::StartStepWith(const StepRecord& s, const std::string& worker,
                            const Json& properties) {
  Status step = StartStep(s);
  Status build = AdoptBuild(s.build_id, worker, properties);
  return step.ok() ? build : step;
}

Status Store::FinishJobRows(const JobEnd& end) {
  Status first;
  auto keep = [&first](Status st) {
    if (first.ok()) first = std::move(st);
  };
  if (end.build_id && end.step >= 0)
    keep(FinishStep(end.build_id, end.step, end.step_result, end.now));
  if (end.build_id) {
    keep(end.worker && end.properties
             ? FinishBuildWith(end.build_id, *end.worker, *end.properties, end.result, end.now)
             : FinishBuild(end.build_id, end.result, end.now));
  }
  keep(FinishRequest(end.request_id, end.result, end.now));
  return first;
}

Status Store::AddRequests(std::vector<RequestRecord>* rs) {
  for (RequestRecord& r : *rs) GROVE_RETURN_IF_ERROR(AddRequest(&r));
  return Status::Ok();
}

Status Store::AddClaimedRequests(int64_t now, const std::string& worker,
                                 std::vector<RequestRecord>* rs) {
  for (RequestRecord& r : *rs) {
    r.attempt = 0;
    GROVE_RETURN_IF_ERROR(AddRequest(&r));
    int attempt = 0;
    GROVE_RETURN_IF_ERROR(ClaimRequest(r.id, worker, now, &attempt));
    r.state = "claimed";
    r.attempt = attempt;
    r.worker = worker;
    r.claimed_at = now;
  }
  return Status::Ok();
}

Status Store::ClaimRequestRecords(const std::vector<int64_t>& ids, const std::string& worker,
                                  int64_t now, std::vector<RequestRecord>* claimed) {
  claimed->clear();
  for (int64_t id : ids) {
    RequestRecord r;
    Status st = ClaimRequestRecord(id, worker, now, &r);
    if (st.IsConflict() || st.IsNotFound()) continue;
    GROVE_RETURN_IF_ERROR(st);
    claimed->push_back(std::move(r));
  }
  return Status::Ok();
}

Status Store::StartBuilds(std::vector<BuildRecord>* builds) {
  for (BuildRecord& b : *builds) {
    if (!StartBuild(&b).ok()) b.id = 0;
    GROVE_RETURN_IF_ERROR(TransactionStatus());
  }
  return Status::Ok();
}

Status OpenMigratedDb(const std::string& url, const std::string& base_dir,
                      const std::string& password, std::unique_ptr<sql::Db>* out) {
  const size_t colon = url.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::Invalid("store url '" + RedactedStoreUrl(url) +
                           "' has no scheme; expected sqlite:PATH or postgresql://...");
  }
  // Only the scheme is echoed: the rest of a database url may hold a password.
  const std::string scheme = url.substr(0, colon);
  if (scheme == "sqlite") return OpenSqlite(url.substr(colon + 1), base_dir, out);
  if (scheme == "postgresql" || scheme == "postgres") {
    if (url.compare(colon, 3, "://") != 0 || url.size() == colon + 3)
      return Status::Invalid("store url '" + RedactedStoreUrl(url) +
                             "': expected postgresql://USER@HOST[:PORT]/DB");
    return OpenPostgres(url, password, out);
  }
  return Status::Invalid("unknown store url scheme '" + scheme +
                         "'; expected sqlite:PATH or postgresql://USER@HOST/DB");
}

}  // namespace grove
