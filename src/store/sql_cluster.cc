#include "store/sql_cluster.h"

namespace grove {

// Defaults for Store implementations without several masters (test doubles): one master owns
// everything.
void Store::SetMasterName(const std::string&) {}
Status Store::QueuedHeads(int limit, std::vector<RequestRecord>* out) {
  return ListRequests("queued", limit, out);
}
Status Store::ClaimedByOthers(const std::string&, std::vector<ClaimedRequest>* out) {
  out->clear();
  return Status::Ok();
}
Status Store::MoveRequest(int64_t, int, const std::string&, const std::string&, const std::string&,
                          bool* moved) {
  *moved = false;
  return Status::Ok();
}
Status Store::RequeueOwnedRequest(int64_t id, int, const std::string&, bool* requeued) {
  Status st = RequeueRequest(id);
  *requeued = st.ok();
  return st.ok() || st.IsConflict() ? Status::Ok() : st;
}
Status Store::LiveMasters(int64_t, std::vector<std::string>* out) {
  out->clear();
  return Status::Ok();
}
Status Store::SharedKey(const std::string&, const std::string& proposed, std::string* out) {
  *out = proposed;
  return Status::Ok();
}

namespace sql_cluster {

namespace {

// In the order of requests_by_state (ListRequests' order), read off that index.
constexpr std::string_view kQueuedHeads =
    "SELECT id, builder, priority FROM requests WHERE state = 'queued' "
    "ORDER BY priority DESC, id LIMIT $1";
// The literal state = 'claimed' lets both engines read it off requests_by_state.
constexpr std::string_view kClaimedByOthers =
    "SELECT id, attempt, worker, master FROM requests WHERE state = 'claimed' AND master <> $1 "
    "ORDER BY id";
// |worker| '' and |from| '' mean: whoever runs it, whoever owns it.
// "(state = 'claimed') IS TRUE": the row is found by its key, not through requests_by_state
// (sql_store.cc, kClaimFreshRequestPg, says why).
constexpr std::string_view kMoveRequest =
    "UPDATE requests SET master = $5 WHERE id = $1 AND attempt = $2 "
    "AND (state = 'claimed') IS TRUE "
    "AND (CAST($3 AS TEXT) = '' OR worker = $3) AND (CAST($4 AS TEXT) = '' OR master = $4) "
    "RETURNING id";
constexpr std::string_view kRequeueOwned =
    "UPDATE requests SET state = 'queued', worker = '', claimed_at = 0 "
    "WHERE id = $1 AND attempt = $2 AND (state = 'claimed') IS TRUE AND master = $3 RETURNING id";
constexpr std::string_view kLiveMasters =
    "SELECT name FROM masters WHERE last_seen >= $1 ORDER BY name";
constexpr std::string_view kInsertKey =
    "INSERT INTO cluster_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
constexpr std::string_view kGetKey = "SELECT value FROM cluster_keys WHERE name = $1";

Status StepOnce(sql::Query& q, bool* row) {
  *row = false;
  return q.Step(row);
}

}  // namespace

Status QueuedHeads(sql::Db& db, int limit, std::vector<RequestRecord>* out) {
  out->clear();
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kQueuedHeads, &q));
  q.Bind(1, static_cast<int64_t>(limit));
  bool row = false;
  while (true) {
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) break;
    RequestRecord r;
    r.id = q.Int(0);
    r.builder = std::string(q.Text(1));
    r.priority = static_cast<int>(q.Int(2));
    r.state = "queued";
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

Status ClaimedByOthers(sql::Db& db, const std::string& self, std::vector<ClaimedRequest>* out) {
  out->clear();
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kClaimedByOthers, &q));
  q.Bind(1, self);
  bool row = false;
  while (true) {
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) break;
    out->push_back(
        {q.Int(0), static_cast<int>(q.Int(1)), std::string(q.Text(2)), std::string(q.Text(3))});
  }
  return Status::Ok();
}

Status MoveRequest(sql::Db& db, int64_t id, int attempt, const std::string& worker,
                   const std::string& from, const std::string& to, bool* moved) {
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kMoveRequest, &q));
  q.Bind(1, id).Bind(2, static_cast<int64_t>(attempt)).Bind(3, worker).Bind(4, from).Bind(5, to);
  return StepOnce(q, moved);
}

Status RequeueOwnedRequest(sql::Db& db, int64_t id, int attempt, const std::string& master,
                           bool* requeued) {
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kRequeueOwned, &q));
  q.Bind(1, id).Bind(2, static_cast<int64_t>(attempt)).Bind(3, master);
  return StepOnce(q, requeued);
}

Status LiveMasters(sql::Db& db, int64_t since, std::vector<std::string>* out) {
  out->clear();
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kLiveMasters, &q));
  q.Bind(1, since);
  bool row = false;
  while (true) {
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) break;
    out->emplace_back(q.Text(0));
  }
  return Status::Ok();
}

Status SharedKey(sql::Db& db, const std::string& name, const std::string& proposed,
                 std::string* out) {
  sql::Query ins;
  GROVE_RETURN_IF_ERROR(db.Prepare(kInsertKey, &ins));
  GROVE_RETURN_IF_ERROR(ins.Bind(1, name).Bind(2, proposed).Run());
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kGetKey, &q));
  q.Bind(1, name);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::IoError("store: the shared key '" + name + "' was not stored");
  *out = std::string(q.Text(0));
  return Status::Ok();
}

}  // namespace sql_cluster
}  // namespace grove
