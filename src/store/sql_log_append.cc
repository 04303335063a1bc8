#include "store/sql_log_append.h"

namespace grove::sql_log {
namespace {

// s locks the step's row (FOR UPDATE: two writers of one step take turns, and s then reads
// the row as the other left it); n is the seq the log expects; ins stores the chunk only when
// it is that one, after the step's current end (an empty chunk at a negative offset, unique
// per seq, as in the generic path); grow moves the end. All parts see one snapshot, so grow
// adds to the size s read. ON CONFLICT DO NOTHING: a chunk stored meanwhile by another writer
// is a redelivery, not an error that would abort the caller's whole transaction.
constexpr std::string_view kAppendChunk =
    "WITH s AS (SELECT log_bytes, log_lines FROM steps WHERE build_id = $1 AND idx = $2 "
    "FOR UPDATE), "
    "n AS (SELECT COALESCE(MAX(seq) + 1, 0) AS next FROM log_chunks "
    "WHERE build_id = $1 AND idx = $2), "
    "ins AS (INSERT INTO log_chunks "
    "(build_id, idx, seq, byte_offset, line_offset, raw_size, lines, data) "
    "SELECT $1, $2, $3, CASE WHEN $5 = 0 THEN -1 - $3 ELSE s.log_bytes END, s.log_lines, "
    "$5, $6, $4 FROM s, n WHERE n.next = $3 ON CONFLICT DO NOTHING RETURNING raw_size, lines), "
    "grow AS (UPDATE steps SET log_bytes = steps.log_bytes + ins.raw_size, "
    "log_lines = steps.log_lines + ins.lines FROM ins "
    "WHERE steps.build_id = $1 AND steps.idx = $2 AND ins.raw_size > 0 RETURNING 1) "
    "SELECT (SELECT COUNT(*) FROM s), (SELECT next FROM n), (SELECT COUNT(*) FROM ins), "
    "(SELECT log_bytes FROM s), (SELECT log_lines FROM s)";

}  // namespace

Status AppendChunkPostgres(sql::Db& db, int64_t build_id, int idx, int64_t seq,
                           std::string_view zdata, int64_t raw_size, int64_t lines,
                           AppendOutcome* out) {
  sql::Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(kAppendChunk, &q));
  q.Bind(1, build_id)
      .Bind(2, static_cast<int64_t>(idx))
      .Bind(3, seq)
      .BindBlob(4, zdata)
      .Bind(5, raw_size)
      .Bind(6, lines);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::IoError("store: appending a log chunk returned no row");
  out->step_found = q.Int(0) > 0;
  out->next_seq = q.Int(1);
  out->stored = q.Int(2) > 0;
  out->log_bytes = q.Int(3);
  out->log_lines = q.Int(4);
  return Status::Ok();
}

}  // namespace grove::sql_log
