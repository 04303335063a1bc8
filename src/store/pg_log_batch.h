// PostgreSQL: the log chunks of one write transaction (the core loop's batch) are stored in a
// few statements instead of one per chunk. A round trip costs more than the work of a chunk,
// and a batch of a chatty step holds a hundred of them.
//
// LogBatchingDb wraps the store's connection. Append() checks a chunk against the step's log
// kept in memory (read once per transaction with the step's row locked, so no one else can
// append to it meanwhile) and queues it; the queue is written (multi-row INSERTs, one UPDATE of
// each step's size) before any other statement runs on the connection and before COMMIT. So
// every read sees the chunks, and a batch is acknowledged only once its chunks are durable. A
// failed write dooms the transaction like any failed statement: the batch is rolled back and
// its events come again. Outside a transaction a chunk is written at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sql_db.h"
#include "store/sql_log_append.h"

namespace grove::sql_log {

class LogBatchingDb final : public sql::Db {
 public:
  explicit LogBatchingDb(std::unique_ptr<sql::Db> inner) : inner_(std::move(inner)) {}

  // As AppendChunkPostgres; |out->stored| also for a chunk only queued.
  Status Append(int64_t build_id, int idx, int64_t seq, std::string_view zdata, int64_t raw_size,
                int64_t lines, AppendOutcome* out);

  sql::Dialect dialect() const override { return inner_->dialect(); }
  Status Exec(std::string_view sql) override;
  Status Prepare(std::string_view sql, sql::Query* out) override;
  Status PrepareInsert(std::string_view sql, sql::Query* out) override;
  Status BeginWrite() override;
  Status Commit() override;
  Status Rollback() override;
  bool InTransaction() const override { return inner_->InTransaction(); }
  Status TransactionStatus() const override { return inner_->TransactionStatus(); }

 private:
  struct StepLog {  // as stored plus what is queued
    int64_t bytes = 0, lines = 0, next_seq = 0;
    bool grown = false;  // the steps row needs its new size
  };
  struct Row {
    int64_t build_id, idx, seq, byte_offset, line_offset, raw_size, lines;
    std::string zdata;
  };

  Status Flush();
  void Forget();

  std::unique_ptr<sql::Db> inner_;
  std::map<std::pair<int64_t, int>, StepLog> steps_;  // read in this transaction
  std::vector<Row> rows_;
  size_t queued_bytes_ = 0;
};

}  // namespace grove::sql_log
