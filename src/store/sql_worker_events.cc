#include "store/sql_worker_events.h"

namespace grove {

// Defaults for Store implementations that keep no record (test doubles): every process is new
// to them and every advance succeeds, as with a single master.
Status Store::GetAppliedEvents(const std::string&, const std::string&, int64_t*) {
  return Status::NotFound("store: no applied events recorded");
}
Status Store::AdvanceAppliedEvents(const std::string&, const std::string&, int64_t) {
  return Status::Ok();
}

namespace sql_worker_events {

using sql::Query;

Status GetAppliedEvents(sql::Db& db, const std::string& worker, const std::string& instance,
                        int64_t* upto) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT applied_upto FROM worker_events WHERE worker = $1 AND instance = $2", &q));
  q.Bind(1, worker).Bind(2, instance);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::NotFound("store: no applied events of " + worker + " " + instance);
  *upto = q.Int(0);
  return Status::Ok();
}

// One row per worker: its latest process. The update is conditional so that two masters that
// apply the same events at once (the RabbitMQ consumer handed over while a batch was open)
// cannot both commit: the second finds the row already there and changes nothing.
// PostgreSQL re-checks the WHERE on the row as the first transaction left it. Whether a row
// changed is the statement's count, not a RETURNING row: SQLite opens a temporary b-tree for
// the rows of every RETURNING statement, and this one runs with each batch of events.
Status AdvanceAppliedEvents(sql::Db& db, const std::string& worker, const std::string& instance,
                            int64_t upto) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("INSERT INTO worker_events (worker, instance, applied_upto) VALUES ($1, $2, $3) "
                 "ON CONFLICT (worker) DO UPDATE SET instance = excluded.instance, "
                 "applied_upto = excluded.applied_upto "
                 "WHERE worker_events.instance <> excluded.instance "
                 "OR worker_events.applied_upto < excluded.applied_upto",
                 &q));
  q.Bind(1, worker).Bind(2, instance).Bind(3, upto);
  int64_t changed = 0;
  GROVE_RETURN_IF_ERROR(q.RunCounting(&changed));
  if (changed == 0)
    return Status::Conflict("store: events of " + worker + " up to " + std::to_string(upto) +
                            " were applied already");
  return Status::Ok();
}

}  // namespace sql_worker_events
}  // namespace grove
