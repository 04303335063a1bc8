#include "store/sql_pool.h"

namespace grove {

// Defaults for Store implementations without on-demand instances (test doubles).
Status Store::PutPoolInstance(const PoolInstanceRecord&) {
  return Status::Unavailable("store: on-demand instances are not supported");
}
Status Store::DeletePoolInstance(const std::string&) {
  return Status::Unavailable("store: on-demand instances are not supported");
}
Status Store::ListPoolInstances(std::vector<PoolInstanceRecord>* out) {
  out->clear();
  return Status::Ok();
}

namespace sql_pool {

using sql::Query;

Status PutPoolInstance(sql::Db& db, const PoolInstanceRecord& r) {
  if (r.name.empty()) return Status::Invalid("store: an on-demand instance needs a name");
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO pool_instances (name, pool, instance, state, started_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET pool = excluded.pool, "
      "instance = excluded.instance, state = excluded.state, started_at = excluded.started_at, "
      "updated_at = excluded.updated_at",
      &q));
  q.Bind(1, r.name)
      .Bind(2, r.pool)
      .Bind(3, r.instance)
      .Bind(4, r.state)
      .Bind(5, r.started_at)
      .Bind(6, r.updated_at);
  return q.Run();
}

Status DeletePoolInstance(sql::Db& db, const std::string& name) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare("DELETE FROM pool_instances WHERE name = $1", &q));
  q.Bind(1, name);
  return q.Run();
}

Status ListPoolInstances(sql::Db& db, std::vector<PoolInstanceRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT name, pool, instance, state, started_at, updated_at FROM pool_instances "
                 "ORDER BY name",
                 &q));
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    PoolInstanceRecord r;
    r.name = q.Text(0);
    r.pool = q.Text(1);
    r.instance = q.Text(2);
    r.state = q.Text(3);
    r.started_at = q.Int(4);
    r.updated_at = q.Int(5);
    out->push_back(std::move(r));
  }
}

}  // namespace sql_pool
}  // namespace grove
