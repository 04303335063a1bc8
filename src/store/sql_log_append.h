// Appending one compressed chunk to a step's log on PostgreSQL in ONE statement (one round
// trip), where the generic path takes six (a savepoint, two reads, an insert, an update, the
// release): over a network connection the round trips, not the work, set the log's rate.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/sql_db.h"

namespace grove::sql_log {

// What the statement found: whether the step exists, the seq the log expected, and whether
// this chunk was stored now (false also when another writer stored the same seq first). The
// step's row stays locked until the transaction ends.
struct AppendOutcome {
  bool step_found = false;
  int64_t next_seq = 0;
  bool stored = false;
  int64_t log_bytes = 0, log_lines = 0;  // the step's log before this chunk
};

// Stores |zdata| (empty for an empty chunk) as chunk |seq| when |seq| is the next one, and
// grows the step's log_bytes/log_lines, all or nothing. It cannot fail on a constraint (a
// duplicate is skipped), so it needs no savepoint inside a batch transaction.
Status AppendChunkPostgres(sql::Db& db, int64_t build_id, int idx, int64_t seq,
                           std::string_view zdata, int64_t raw_size, int64_t lines,
                           AppendOutcome* out);

}  // namespace grove::sql_log
