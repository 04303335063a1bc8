#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <charconv>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/string_hash.h"

namespace grove::sql {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
struct FreeSqlite {
  void operator()(char* p) const { sqlite3_free(p); }
};

using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

Status Error(std::string_view what, std::string_view sql) {
  std::string msg = "sqlite: ";
  msg += what;
  if (!sql.empty()) {
    msg += " (in: ";
    msg += Abbreviate(sql);
    msg += ")";
  }
  return Status::IoError(std::move(msg));
}

// The status for a failed call on |db|: constraint violations are conflicts (a duplicate key
// the caller may handle); everything else is an I/O error carrying SQLite's own message.
Status ErrorOf(sqlite3* db, int rc, std::string_view sql) {
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return Status::Conflict(std::string("sqlite: ") + sqlite3_errmsg(db) +
                            " (in: " + Abbreviate(sql) + ")");
  }
  return Error(sqlite3_errmsg(db), sql);
}

// The errors that say the store cannot write now (a full disk, an I/O error, a lock), as
// opposed to a refused statement (a constraint, a bug in a query).
bool IsEnvironmental(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_CORRUPT:
      return true;
    default:
      return false;
  }
}

// What a write transaction's statements report to their connection.
class TxnHealth {
 public:
  virtual void Failed(int rc, const Status& st) = 0;

 protected:
  ~TxnHealth() = default;
};

class SqliteStmt final : public Stmt {
 public:
  SqliteStmt(sqlite3* db, TxnHealth* health, StmtPtr stmt, std::string_view sql)
      : db_(db), health_(health), stmt_(std::move(stmt)), sql_(sql) {
    // SQLite treats "$1" as a *named* parameter and numbers parameters in order of first
    // appearance, so "SET a = $2 WHERE id = $1" would swap them. Map $N to SQLite's index.
    const int count = sqlite3_bind_parameter_count(stmt_.get());
    index_.assign(count + 1, 0);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt_.get(), i);
      int n = i;  // anonymous "?" parameters keep their position
      if (name != nullptr && name[0] == '$') {
        std::string_view digits(name + 1);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc() || p != digits.data() + digits.size() || n < 1) n = 0;
      }
      if (n >= static_cast<int>(index_.size())) index_.resize(n + 1, 0);
      if (n > 0) index_[n] = i;
    }
  }

  bool in_use() const { return in_use_; }
  void Acquire() { in_use_ = true; }

  void BindInt(int pos, int64_t v) override {
    if (int i = Index(pos)) Check(pos, sqlite3_bind_int64(stmt_.get(), i, v));
  }
  void BindText(int pos, std::string_view v) override {
    if (int i = Index(pos))
      Check(pos,
            sqlite3_bind_text64(stmt_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void BindBlob(int pos, std::string_view v) override {
    // A zero-length blob must still be a blob, not NULL: bind_zeroblob for the empty case.
    if (int i = Index(pos)) {
      int rc = v.empty()
                   ? sqlite3_bind_zeroblob(stmt_.get(), i, 0)
                   : sqlite3_bind_blob64(stmt_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT);
      Check(pos, rc);
    }
  }
  void BindNull(int pos) override {
    if (int i = Index(pos)) Check(pos, sqlite3_bind_null(stmt_.get(), i));
  }

  Status Step(bool* row) override {
    *row = false;
    if (!bind_error_.ok()) return bind_error_;
    // SQLite would silently re-run a finished statement; a finished one stays finished.
    if (done_) return Status::Ok();
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
      *row = true;
      return Status::Ok();
    }
    done_ = true;
    if (rc == SQLITE_DONE) return Status::Ok();
    Status st = ErrorOf(db_, rc, sql_);
    health_->Failed(rc, st);
    return st;
  }

  bool IsNull(int col) override { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  int64_t Int(int col) override { return sqlite3_column_int64(stmt_.get(), col); }
  std::string_view Text(int col) override {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col))};
  }
  std::string_view Blob(int col) override {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_.get(), col));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col))};
  }

  // Read right after the statement ran, before another one on the connection does.
  int64_t Changes() override { return done_ ? sqlite3_changes64(db_) : 0; }

  Status RunInsert(int64_t* id) override {
    *id = 0;
    bool row = true;
    while (row) GROVE_RETURN_IF_ERROR(Step(&row));
    if (sqlite3_changes64(db_) > 0) *id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  }

  void Release() override {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_error_ = Status::Ok();
    done_ = false;
    in_use_ = false;
  }

 private:
  int Index(int pos) {
    if (pos >= 1 && pos < static_cast<int>(index_.size()) && index_[pos] != 0) return index_[pos];
    if (bind_error_.ok())
      bind_error_ = Status::Invalid("sqlite: no parameter $" + std::to_string(pos) +
                                    " (in: " + Abbreviate(sql_) + ")");
    return 0;
  }
  void Check(int pos, int rc) {
    if (rc != SQLITE_OK && bind_error_.ok())
      bind_error_ = Error(
          std::string("cannot bind $") + std::to_string(pos) + ": " + sqlite3_errmsg(db_), sql_);
  }

  sqlite3* db_;
  TxnHealth* health_;
  StmtPtr stmt_;
  std::string sql_;
  std::vector<int> index_;  // $N → SQLite's parameter index (0: no such parameter)
  Status bind_error_;
  bool done_ = false;
  bool in_use_ = false;
};

class SqliteDb final : public Db, private TxnHealth {
 public:
  explicit SqliteDb(DbPtr db) : db_(std::move(db)) {}

  Dialect dialect() const override { return Dialect::kSqlite; }

  Status Exec(std::string_view sql) override {
    std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
    char* raw_err = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &raw_err);
    std::unique_ptr<char, FreeSqlite> err(raw_err);
    if (rc == SQLITE_OK) return Status::Ok();
    return Error(err ? err.get() : sqlite3_errstr(rc), sql);
  }

  Status Prepare(std::string_view sql, Query* out) override {
    // In a doomed write transaction nothing more is done: after SQLite ended it on its own, a
    // statement would even run in autocommit mode (half of a batch durable, the rest gone).
    // Refused until the transaction's owner ends it (Commit or Rollback).
    if (Status st = TransactionStatus(); !st.ok()) return st;
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* raw = nullptr;
      const char* tail = nullptr;
      // PERSISTENT: the statement lives in the cache for the connection's lifetime.
      int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &raw, &tail);
      StmtPtr stmt(raw);
      if (rc != SQLITE_OK) return ErrorOf(db_.get(), rc, sql);
      if (stmt == nullptr) return Status::Invalid("sqlite: empty statement");
      if (std::string_view(tail, sql.data() + sql.size() - tail).find_first_not_of(" \t\r\n;") !=
          std::string_view::npos) {
        return Status::Invalid("sqlite: more than one statement (in: " + Abbreviate(sql) + ")");
      }
      it = cache_
               .emplace(std::string(sql),
                        std::make_unique<SqliteStmt>(db_.get(), static_cast<TxnHealth*>(this),
                                                     std::move(stmt), sql))
               .first;
    }
    SqliteStmt* stmt = it->second.get();
    if (stmt->in_use()) {
      return Status::Invalid("sqlite: statement already in use (in: " + Abbreviate(sql) + ")");
    }
    stmt->Acquire();
    *out = Query(stmt);
    return Status::Ok();
  }

  Status PrepareInsert(std::string_view sql, Query* out) override {
    constexpr std::string_view kReturningId = " RETURNING id";
    if (sql.size() < kReturningId.size() ||
        sql.substr(sql.size() - kReturningId.size()) != kReturningId)
      return Status::Invalid(
          "sqlite: an insert prepared for its id must end with RETURNING id (in: " +
          Abbreviate(sql) + ")");
    return Prepare(sql.substr(0, sql.size() - kReturningId.size()), out);
  }

  Status BeginWrite() override {
    GROVE_RETURN_IF_ERROR(Run("BEGIN IMMEDIATE"));
    in_write_ = true;
    failure_ = Status::Ok();
    return Status::Ok();
  }
  Status Commit() override {
    Status st = TransactionStatus();
    if (!st.ok()) {
      (void)Rollback();
      return st;
    }
    in_write_ = false;
    return Run("COMMIT");  // when it fails, the transaction stays open for Rollback
  }
  Status Rollback() override {
    in_write_ = false;
    failure_ = Status::Ok();
    if (!InTransaction()) return Status::Ok();  // already ended by an error
    return Run("ROLLBACK");
  }
  bool InTransaction() const override { return sqlite3_get_autocommit(db_.get()) == 0; }

  // A write transaction is doomed by an environmental error in one of its statements (even
  // when SQLite undid only that statement: a batch is all or nothing) or when SQLite ended it.
  Status TransactionStatus() const override {
    if (!in_write_) return Status::Ok();
    if (!failure_.ok()) return failure_;
    if (!InTransaction())
      return Status::IoError("sqlite: the transaction was rolled back by an earlier error");
    return Status::Ok();
  }

 private:
  void Failed(int rc, const Status& st) override {
    if (in_write_ && failure_.ok() && IsEnvironmental(rc)) failure_ = st;
  }

  Status Run(std::string_view sql) {
    Query q;
    GROVE_RETURN_IF_ERROR(Prepare(sql, &q));
    return q.Run();
  }

  // Declared before the cache so that it is destroyed after it: statements are finalized
  // before the connection closes.
  DbPtr db_;
  bool in_write_ = false;  // between a successful BeginWrite and Commit/Rollback
  Status failure_;         // what doomed the current write transaction
  std::unordered_map<std::string, std::unique_ptr<SqliteStmt>, StringHash, std::equal_to<>> cache_;
};

}  // namespace

Status OpenSqliteDb(const std::string& path, std::unique_ptr<Db>* out) {
  // SQLite counts every allocation in its memory statistics under one global mutex (2-3 % of
  // the master's CPU at thousands of consumer jobs a second); grove reads no such statistic.
  // Only possible before SQLite initializes, which its first open does.
  static const int kNoMemStatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)kNoMemStatus;
  sqlite3* raw = nullptr;
  // NOMUTEX: a connection is used by one thread at a time (store.h), so SQLite's per-call
  // mutex is pure overhead.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);  // sqlite3_open_v2 may allocate a handle even when it fails
  if (rc != SQLITE_OK) {
    return Status::IoError("sqlite: cannot open " + path + ": " +
                           (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  auto sqlite = std::make_unique<SqliteDb>(std::move(db));
  // auto_vacuum=INCREMENTAL takes effect only on a database without tables yet (a new one):
  // the retention pruner then gives freed pages back with incremental_vacuum. A database made
  // before needs one VACUUM to switch (docs/operations.md, "Retention"); here it is a no-op.
  Status st = sqlite->Exec(
      "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
      "PRAGMA foreign_keys=ON;");
  if (!st.ok()) return Status::IoError("cannot open " + path + ": " + st.message());
  *out = std::move(sqlite);
  return Status::Ok();
}

}  // namespace grove::sql
