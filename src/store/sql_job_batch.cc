#include "store/sql_job_batch.h"

#include <array>
#include <map>
#include <mutex>

namespace grove {

// Defaults for Store implementations without batches (test doubles): row by row.
Status Store::ClaimFreshRequests(const std::vector<int64_t>& ids, const std::string& worker,
                                 int64_t now, std::vector<int64_t>* claimed) {
  claimed->clear();
  for (int64_t id : ids) {
    RequestRecord r;
    if (!GetRequest(id, &r).ok() || r.state != "queued" || r.attempt != 0) continue;
    RequestRecord row;
    Status st = ClaimRequestRecord(id, worker, now, &row);
    if (st.IsConflict() || st.IsNotFound()) continue;
    GROVE_RETURN_IF_ERROR(st);
    claimed->push_back(id);
  }
  return Status::Ok();
}
Status Store::RecordSteps(const std::vector<StepRecord>& steps) {
  for (const StepRecord& s : steps) GROVE_RETURN_IF_ERROR(RecordStep(s));
  return Status::Ok();
}
Status Store::FinishBuildsWith(const std::vector<BuildEnd>& ends) {
  for (const BuildEnd& e : ends)
    GROVE_RETURN_IF_ERROR(FinishBuildWith(e.id, e.worker, e.properties, e.result, e.finished_at));
  return Status::Ok();
}
Status Store::FinishRequests(const std::vector<int64_t>& ids, Result result, int64_t now) {
  for (int64_t id : ids) GROVE_RETURN_IF_ERROR(FinishRequest(id, result, now));
  return Status::Ok();
}
Status Store::FinishSteps(const std::vector<StepEnd>& ends) {
  Status first;
  for (const StepEnd& e : ends) {
    Status st = FinishStep(e.build_id, e.idx, e.result, e.finished_at);
    if (first.ok() && !st.ok()) first = std::move(st);
  }
  return first;
}
Status Store::FinishJobs(const std::vector<StepRecord>& steps,
                         const std::vector<StepEnd>& step_ends,
                         const std::vector<BuildEnd>& builds) {
  // Each kind of write is made even when one before it was refused, as separate calls were.
  Status first;
  auto keep = [&first](Status st) {
    if (first.ok() && !st.ok()) first = std::move(st);
  };
  keep(RecordSteps(steps));
  keep(FinishSteps(step_ends));
  keep(FinishBuildsWith(builds));
  // The requests by (result, time): one FinishRequests each (most batches have one).
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> requests;
  for (const BuildEnd& b : builds)
    if (b.request_id != 0)
      requests[{static_cast<int>(b.result), b.finished_at}].push_back(b.request_id);
  for (const auto& [end, ids] : requests)
    keep(FinishRequests(ids, static_cast<Result>(end.first), end.second));
  return first;
}

namespace sql_job_batch {
namespace {

using sql::Query;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Rows per statement of the VALUES lists: a batch is cut into these (the last shape is one
// row), so that the connection's statement cache holds three shapes, not one per batch size.
constexpr std::array<size_t, 3> kRowsPerStatement = {32, 8, 1};
// IN lists: up to |n| ids padded to one of these sizes (an id twice in IN is harmless).
constexpr std::array<size_t, 3> kInSizes = {8, 32, 128};

// "$first, $first+1, ..." |n| placeholders, as "(...), (...)" groups of |per_row| when
// |per_row| > 0.
std::string Placeholders(size_t n, int first, size_t per_row, std::string_view row_head = "",
                         std::string_view row_tail = "") {
  std::string out;
  int p = first;
  if (per_row == 0) {
    for (size_t i = 0; i < n; ++i) out += (i ? ", $" : "$") + std::to_string(p++);
    return out;
  }
  for (size_t r = 0; r < n; ++r) {
    out += r ? ", (" : "(";
    out += row_head;
    for (size_t c = 0; c < per_row; ++c) out += (c ? ", $" : "$") + std::to_string(p++);
    out += row_tail;
    out += ")";
  }
  return out;
}

// The SQL of each shape of |Make|, made once (the statement cache is keyed by the text).
template <std::string (*Make)(size_t), size_t N>
const std::string& Shape(const std::array<size_t, N>& sizes, size_t size) {
  static std::once_flag once;
  static std::array<std::string, N> sql;
  std::call_once(once, [&] {
    for (size_t i = 0; i < N; ++i) sql[i] = Make(sizes[i]);
  });
  for (size_t i = 0; i < N; ++i)
    if (sizes[i] == size) return sql[i];
  return sql[N - 1];
}

// FinishRequests' sizes: one id alone is "id IN ($3)", which both engines read as "id = $3".
// PostgreSQL plans a prepared statement once for all its runs after the first five, with the
// table's size at that time: on a young database the IN list of eight was planned as a scan of
// the whole table (cheaper for a few pages) and kept so as the table grew, one scan per batch
// of ends, most of which end one build (issue 14: 1,500 scans of 2,000 rows in a
// 3,000-build burst). An equality on the key is an index lookup whatever the table's size.
constexpr std::array<size_t, 4> kFinishInSizes = {1, 8, 32, 128};

template <size_t N>
size_t InSizeOf(size_t n, const std::array<size_t, N>& sizes) {
  for (size_t s : sizes)
    if (s >= n) return s;
  return sizes.back();
}
size_t InSize(size_t n) {
  return InSizeOf(n, kInSizes);
}

std::string ClaimFreshSql(size_t n) {
  return "UPDATE requests SET state = 'claimed', attempt = 1, worker = $1, claimed_at = $2, "
         "master = $3 WHERE state = 'queued' AND attempt = 0 AND id IN (" +
         Placeholders(n, 4, 0) + ") RETURNING id";
}

// One id: "id = $3", not an IN list (SQLite builds a temporary b-tree for every IN list; at a
// few jobs per batch that was most of the statement).
std::string FinishRequestsSql(size_t n) {
  if (n == 1)
    return "UPDATE requests SET state = 'finished', result = $1, finished_at = $2 WHERE id = $3";
  return "UPDATE requests SET state = 'finished', result = $1, finished_at = $2 WHERE id IN (" +
         Placeholders(n, 3, 0) + ")";
}

// As sql_pipeline::RecordStep, without its check that the build exists (the caller's builds
// are running: they exist).
std::string RecordStepsSql(size_t n) {
  return "INSERT INTO steps (build_id, idx, name, result, started_at, finished_at, result_json, "
         "state) VALUES " +
         Placeholders(n, 1, 7, "", ", 'finished'") +
         " ON CONFLICT (build_id, idx) DO UPDATE SET state = 'finished', "
         "result = excluded.result, finished_at = excluded.finished_at, "
         "result_json = COALESCE(excluded.result_json, steps.result_json)";
}

// UPDATE ... FROM: SQLite 3.33 and PostgreSQL; a VALUES list's columns are column1, column2...
// in both. One row is a plain UPDATE (the same parameters): SQLite runs an UPDATE ... FROM
// through two temporary b-trees, a fixed cost that only several rows pay back.
std::string FinishBuildsSql(size_t n) {
  if (n == 1)
    return "UPDATE builds SET state = 'finished', result = $2, finished_at = $3, worker = $4, "
           "properties = $5 WHERE id = $1";
  return "UPDATE builds SET state = 'finished', result = v.column2, finished_at = v.column3, "
         "worker = v.column4, properties = v.column5 FROM (VALUES " +
         Placeholders(n, 1, 5) + ") AS v WHERE builds.id = v.column1";
}

// StartBuild's insert for several builds: a row only where the request exists, none where the
// attempt has a build already.
std::string InsertBuildsSql(size_t n) {
  return "INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, "
         "started_at, finished_at, properties) SELECT * FROM (VALUES " +
         Placeholders(n, 1, 10) +
         ") AS v WHERE EXISTS (SELECT 1 FROM requests WHERE requests.id = v.column1) "
         "ON CONFLICT (request_id, attempt) DO NOTHING RETURNING id, request_id, number";
}

// FinishSteps' write: kFinishStep of sql_store.cc.
constexpr std::string_view kEndStepRow =
    "UPDATE steps SET state = 'finished', result = $3, finished_at = $4 "
    "WHERE build_id = $1 AND idx = $2";

// FinishFewJobs: a job's end in one statement. $1 to $6 the build (id, result, time, worker,
// properties) and $2 its request, ended with the build's result and time; the step's columns
// follow. The main statement is the request's update: no row comes back (the answers are not
// waited for), and every part is an equality on a key, so the plan PostgreSQL keeps for all
// later runs is an index lookup whatever the tables' sizes.
#define GROVE_END_JOB_PG(STEP)                                                  \
  "WITH " STEP                                                                  \
  "b AS (UPDATE builds SET state = 'finished', result = $3, finished_at = $4, " \
  "worker = $5, properties = $6 WHERE id = $1) "                                \
  "UPDATE requests SET state = 'finished', result = $3, finished_at = $4 WHERE id = $2"
// No step ends with the job.
constexpr std::string_view kEndJobPg = GROVE_END_JOB_PG("");
// Its last step started and ended in this batch: inserted finished, as RecordStepsSql ($7 idx,
// $8 name, $9 result, $10 started_at, $11 finished_at, $12 result_json).
constexpr std::string_view kEndJobRecordStepPg = GROVE_END_JOB_PG(
    "s AS (INSERT INTO steps (build_id, idx, name, result, started_at, finished_at, "
    "result_json, state) VALUES ($1, $7, $8, $9, $10, $11, $12, 'finished') "
    "ON CONFLICT (build_id, idx) DO UPDATE SET state = 'finished', result = excluded.result, "
    "finished_at = excluded.finished_at, "
    "result_json = COALESCE(excluded.result_json, steps.result_json)), ");
// Its last step started in an earlier batch: ended, as kFinishStep ($7 idx, $8 result, $9
// finished_at).
constexpr std::string_view kEndJobFinishStepPg = GROVE_END_JOB_PG(
    "s AS (UPDATE steps SET state = 'finished', result = $8, finished_at = $9 "
    "WHERE build_id = $1 AND idx = $7), ");
#undef GROVE_END_JOB_PG

// A finished step's columns after its build: idx, name, result, started_at, finished_at and
// result_json as $p+1 to $p+6.
void BindStepColumns(Query& q, int p, const StepRecord& s) {
  q.Bind(p + 1, int64_t{s.idx})
      .Bind(p + 2, s.name)
      .Bind(p + 3, int64_t{s.result})
      .Bind(p + 4, s.started_at)
      .Bind(p + 5, s.finished_at);
  if (s.result_json.is_null())
    q.BindNull(p + 6);
  else
    q.Bind(p + 6, Dump(s.result_json));
}

// Runs |run(from, rows)| over [0, total) in the row counts of kRowsPerStatement.
template <typename Run>
Status InRowChunks(size_t total, Run run) {
  size_t from = 0;
  for (size_t rows : kRowsPerStatement)
    for (; total - from >= rows; from += rows) GROVE_RETURN_IF_ERROR(run(from, rows));
  return Status::Ok();
}

}  // namespace

Status ClaimFreshRequests(sql::Db& db, const std::vector<int64_t>& ids, const std::string& worker,
                          int64_t now, const std::string& master, std::vector<int64_t>* claimed) {
  claimed->clear();
  for (size_t from = 0; from < ids.size();) {
    const size_t n = std::min(ids.size() - from, kInSizes.back());
    const size_t size = InSize(n);
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(Shape<ClaimFreshSql>(kInSizes, size), &q));
    q.Bind(1, worker).Bind(2, now).Bind(3, master);
    for (size_t i = 0; i < size; ++i)
      q.Bind(static_cast<int>(i + 4), ids[from + std::min(i, n - 1)]);
    for (;;) {
      bool row = false;
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) break;
      claimed->push_back(q.Int(0));
    }
    from += n;
  }
  return Status::Ok();
}

Status RecordSteps(sql::Db& db, const std::vector<StepRecord>& steps) {
  return InRowChunks(steps.size(), [&](size_t from, size_t rows) {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(Shape<RecordStepsSql>(kRowsPerStatement, rows), &q));
    for (size_t i = 0; i < rows; ++i) {
      const int p = static_cast<int>(i * 7);
      q.Bind(p + 1, steps[from + i].build_id);
      BindStepColumns(q, p + 1, steps[from + i]);
    }
    return q.RunDeferred();
  });
}

Status FinishBuildsWith(sql::Db& db, const std::vector<Store::BuildEnd>& ends) {
  return InRowChunks(ends.size(), [&](size_t from, size_t rows) {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(Shape<FinishBuildsSql>(kRowsPerStatement, rows), &q));
    for (size_t i = 0; i < rows; ++i) {
      const Store::BuildEnd& e = ends[from + i];
      const int p = static_cast<int>(i * 5);
      q.Bind(p + 1, e.id)
          .Bind(p + 2, static_cast<int64_t>(e.result))
          .Bind(p + 3, e.finished_at)
          .Bind(p + 4, e.worker)
          .Bind(p + 5, Dump(e.properties));
    }
    return q.RunDeferred();
  });
}

Status InsertBuilds(sql::Db& db, std::vector<BuildRecord>* builds,
                    const std::vector<int64_t>& numbers) {
  std::vector<BuildRecord>& all = *builds;
  return InRowChunks(all.size(), [&](size_t from, size_t rows) {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(Shape<InsertBuildsSql>(kRowsPerStatement, rows), &q));
    for (size_t i = 0; i < rows; ++i) {
      const BuildRecord& b = all[from + i];
      const int p = static_cast<int>(i * 10);
      q.Bind(p + 1, b.request_id)
          .Bind(p + 2, int64_t{b.attempt})
          .Bind(p + 3, b.builder)
          .Bind(p + 4, numbers[from + i])
          .Bind(p + 5, b.worker)
          .Bind(p + 6, b.state)
          .Bind(p + 7, int64_t{b.result})
          .Bind(p + 8, b.started_at)
          .Bind(p + 9, b.finished_at)
          .Bind(p + 10, Dump(b.properties));
    }
    for (;;) {
      bool row = false;
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) break;
      // Matched by request and number (numbers are per builder): the engine may insert the
      // rows in any order, and of two rows for one attempt either may be the one inserted.
      const int64_t id = q.Int(0), request = q.Int(1), number = q.Int(2);
      for (size_t i = from; i < from + rows; ++i) {
        if (all[i].request_id != request || numbers[i] != number) continue;
        all[i].id = id;
        all[i].number = number;
        break;
      }
    }
    return Status::Ok();
  });
}

Status FinishRequests(sql::Db& db, const std::vector<int64_t>& ids, Result result, int64_t now) {
  for (size_t from = 0; from < ids.size();) {
    size_t n = std::min(ids.size() - from, kFinishInSizes.back());
    // PostgreSQL: a few ends (a batch that ended two or three builds) one by key each, as
    // statements sent together (RunDeferred), rather than an IN list its plan may scan for.
    if (db.dialect() == sql::Dialect::kPostgres && n < kFinishInSizes[1]) n = 1;
    const size_t size = InSizeOf(n, kFinishInSizes);
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(Shape<FinishRequestsSql>(kFinishInSizes, size), &q));
    q.Bind(1, static_cast<int64_t>(result)).Bind(2, now);
    for (size_t i = 0; i < size; ++i)
      q.Bind(static_cast<int>(i + 3), ids[from + std::min(i, n - 1)]);
    GROVE_RETURN_IF_ERROR(q.RunDeferred());
    from += n;
  }
  return Status::Ok();
}

Status FinishSteps(sql::Db& db, const std::vector<Store::StepEnd>& ends) {
  const bool pg = db.dialect() == sql::Dialect::kPostgres;
  Status first;
  for (const Store::StepEnd& e : ends) {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(kEndStepRow, &q));
    q.Bind(1, e.build_id)
        .Bind(2, int64_t{e.idx})
        .Bind(3, static_cast<int64_t>(e.result))
        .Bind(4, e.finished_at);
    if (pg) {
      GROVE_RETURN_IF_ERROR(q.RunDeferred());
      continue;
    }
    int64_t changed = 0;
    Status st = q.RunCounting(&changed);
    if (st.ok() && changed == 0)
      st = Status::NotFound("step " + std::to_string(e.idx) + " of build " +
                            std::to_string(e.build_id) + " not found");
    if (first.ok() && !st.ok()) first = std::move(st);
    GROVE_RETURN_IF_ERROR(db.TransactionStatus());
  }
  return first;
}

Status FinishFewJobs(sql::Db& db, const std::vector<StepRecord>& steps,
                     const std::vector<Store::StepEnd>& step_ends,
                     const std::vector<Store::BuildEnd>& builds) {
  // Each build takes one step of its own with it: a step that started and ended here, else one
  // that started before. The rest (steps of builds that go on, a second step) go on their own.
  std::vector<bool> step_taken(steps.size()), end_taken(step_ends.size());
  for (const Store::BuildEnd& b : builds) {
    const StepRecord* record = nullptr;
    const Store::StepEnd* end = nullptr;
    for (size_t i = 0; i < steps.size() && !record; ++i)
      if (!step_taken[i] && steps[i].build_id == b.id) {
        step_taken[i] = true;
        record = &steps[i];
      }
    for (size_t i = 0; i < step_ends.size() && !record && !end; ++i)
      if (!end_taken[i] && step_ends[i].build_id == b.id) {
        end_taken[i] = true;
        end = &step_ends[i];
      }
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(record ? kEndJobRecordStepPg
                                     : end  ? kEndJobFinishStepPg
                                            : kEndJobPg,
                                     &q));
    q.Bind(1, b.id)
        .Bind(2, b.request_id)
        .Bind(3, static_cast<int64_t>(b.result))
        .Bind(4, b.finished_at)
        .Bind(5, b.worker)
        .Bind(6, Dump(b.properties));
    if (record)
      BindStepColumns(q, 6, *record);
    else if (end)
      q.Bind(7, int64_t{end->idx})
          .Bind(8, static_cast<int64_t>(end->result))
          .Bind(9, end->finished_at);
    GROVE_RETURN_IF_ERROR(q.RunDeferred());
  }
  std::vector<StepRecord> other_steps;
  for (size_t i = 0; i < steps.size(); ++i)
    if (!step_taken[i]) other_steps.push_back(steps[i]);
  std::vector<Store::StepEnd> other_ends;
  for (size_t i = 0; i < step_ends.size(); ++i)
    if (!end_taken[i]) other_ends.push_back(step_ends[i]);
  GROVE_RETURN_IF_ERROR(RecordSteps(db, other_steps));
  return FinishSteps(db, other_ends);
}

}  // namespace sql_job_batch
}  // namespace grove
