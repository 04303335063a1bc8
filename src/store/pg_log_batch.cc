#include "store/pg_log_batch.h"

#include <algorithm>

namespace grove::sql_log {
namespace {

constexpr std::string_view kSetStepLog =
    "UPDATE steps SET log_bytes = $3, log_lines = $4 WHERE build_id = $1 AND idx = $2";
constexpr int kColumns = 8;
// Rows per INSERT: 256 parameters; the statement cache holds one statement per count used.
constexpr size_t kRowsPerInsert = 32;
// Queued compressed bytes written early, so that a batch of incompressible output does not
// hold its whole window in memory twice.
constexpr size_t kMaxQueuedBytes = 4 << 20;

std::string InsertRows(size_t n) {
  std::string sql =
      "INSERT INTO log_chunks (build_id, idx, seq, byte_offset, line_offset, raw_size, lines, "
      "data) VALUES ";
  int p = 1;
  for (size_t r = 0; r < n; ++r) {
    sql += r ? ",(" : "(";
    for (int c = 0; c < kColumns; ++c, ++p) sql += (c ? ",$" : "$") + std::to_string(p);
    sql += ')';
  }
  return sql;
}

}  // namespace

Status LogBatchingDb::Append(int64_t build_id, int idx, int64_t seq, std::string_view zdata,
                             int64_t raw_size, int64_t lines, AppendOutcome* out) {
  if (!inner_->InTransaction())
    return AppendChunkPostgres(*inner_, build_id, idx, seq, zdata, raw_size, lines, out);
  GROVE_RETURN_IF_ERROR(inner_->TransactionStatus());
  auto it = steps_.find({build_id, idx});
  if (it == steps_.end()) {
    // The step's first chunk in this transaction goes in at once (a batch of one chunk, the
    // usual case while the master keeps up, costs one statement) and locks the step's row:
    // from then on its log is known here and its next chunks are queued.
    GROVE_RETURN_IF_ERROR(
        AppendChunkPostgres(*inner_, build_id, idx, seq, zdata, raw_size, lines, out));
    if (!out->step_found || (seq == out->next_seq && !out->stored))
      return Status::Ok();  // no step, or another writer was first: nothing known to keep
    StepLog s{out->log_bytes, out->log_lines, out->next_seq};
    if (out->stored) {
      s.bytes += raw_size;
      s.lines += lines;
      ++s.next_seq;
    }
    steps_.emplace(std::make_pair(build_id, idx), s);
    return Status::Ok();
  }
  StepLog& s = it->second;
  *out = AppendOutcome{true, s.next_seq, false};
  if (seq != s.next_seq) return Status::Ok();  // stored before, or not its turn yet
  // An empty chunk takes its seq at a negative offset, unique per seq (as sql_store.cc does).
  rows_.push_back(Row{build_id, idx, seq, raw_size == 0 ? -1 - seq : s.bytes, s.lines, raw_size,
                      lines, std::string(zdata)});
  queued_bytes_ += zdata.size();
  ++s.next_seq;
  if (raw_size > 0) {
    s.bytes += raw_size;
    s.lines += lines;
    s.grown = true;
  }
  out->stored = true;
  if (queued_bytes_ > kMaxQueuedBytes) return Flush();
  return Status::Ok();
}

Status LogBatchingDb::Flush() {
  if (rows_.empty()) return Status::Ok();
  std::vector<Row> rows = std::move(rows_);
  rows_.clear();
  queued_bytes_ = 0;
  for (size_t start = 0; start < rows.size(); start += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, rows.size() - start);
    sql::Query q;
    GROVE_RETURN_IF_ERROR(inner_->Prepare(InsertRows(n), &q));
    int p = 1;
    for (size_t r = start; r < start + n; ++r) {
      const Row& row = rows[r];
      q.Bind(p, row.build_id)
          .Bind(p + 1, row.idx)
          .Bind(p + 2, row.seq)
          .Bind(p + 3, row.byte_offset)
          .Bind(p + 4, row.line_offset)
          .Bind(p + 5, row.raw_size)
          .Bind(p + 6, row.lines)
          .BindBlob(p + 7, row.zdata);
      p += kColumns;
    }
    GROVE_RETURN_IF_ERROR(q.Run());
  }
  for (auto& [key, s] : steps_) {
    if (!s.grown) continue;
    sql::Query q;
    GROVE_RETURN_IF_ERROR(inner_->Prepare(kSetStepLog, &q));
    q.Bind(1, key.first)
        .Bind(2, static_cast<int64_t>(key.second))
        .Bind(3, s.bytes)
        .Bind(4, s.lines);
    GROVE_RETURN_IF_ERROR(q.Run());
    s.grown = false;
  }
  return Status::Ok();
}

void LogBatchingDb::Forget() {
  steps_.clear();
  rows_.clear();
  queued_bytes_ = 0;
}

Status LogBatchingDb::Exec(std::string_view sql) {
  GROVE_RETURN_IF_ERROR(Flush());
  return inner_->Exec(sql);
}

Status LogBatchingDb::Prepare(std::string_view sql, sql::Query* out) {
  GROVE_RETURN_IF_ERROR(Flush());
  return inner_->Prepare(sql, out);
}

Status LogBatchingDb::PrepareInsert(std::string_view sql, sql::Query* out) {
  GROVE_RETURN_IF_ERROR(Flush());
  return inner_->PrepareInsert(sql, out);
}

Status LogBatchingDb::BeginWrite() {
  Forget();
  return inner_->BeginWrite();
}

Status LogBatchingDb::Commit() {
  Status st = Flush();
  Forget();
  if (!st.ok()) {
    // The chunks did not go in: nothing of the batch may (its events are acknowledged on commit).
    (void)inner_->Rollback();
    return st;
  }
  return inner_->Commit();
}

Status LogBatchingDb::Rollback() {
  Forget();
  return inner_->Rollback();
}

}  // namespace grove::sql_log
