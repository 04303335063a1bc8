// A thin SQL layer: just enough of a database connection for the store's queries, behind an
// interface so that SQLite (sqlite_db.h) and PostgreSQL (pg_db.h, libpq) serve the same queries.
//
// Queries are written once, in SQL both engines accept: "$1, $2" placeholders, BIGINT/TEXT
// columns, INSERT ... ON CONFLICT, RETURNING. Schema DDL, the one place the dialects differ
// (identity columns, blob type), goes through migrations.cc.
//
// A Db is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace grove::sql {

enum class Dialect { kSqlite, kPostgres };

// |sql| as one short line, for error messages that name the query that failed.
std::string Abbreviate(std::string_view sql);

// One prepared statement, owned by its Db's statement cache. Parameters are numbered from 1
// ($1 is 1), result columns from 0. Use it through Query, which hands it back when done.
class Stmt {
 public:
  virtual ~Stmt() = default;

  // Bound values are copied. A bind error is reported by the next Step().
  virtual void BindInt(int pos, int64_t v) = 0;
  virtual void BindText(int pos, std::string_view v) = 0;
  virtual void BindBlob(int pos, std::string_view v) = 0;
  virtual void BindNull(int pos) = 0;

  // Runs the statement (first call) or moves to the next row: *row tells whether a row is
  // available to read with the column getters.
  virtual Status Step(bool* row) = 0;

  virtual bool IsNull(int col) = 0;
  virtual int64_t Int(int col) = 0;
  // Valid until the next Step() or the statement's release.
  virtual std::string_view Text(int col) = 0;
  virtual std::string_view Blob(int col) = 0;

  // The rows the statement inserted, updated or deleted, once it has run (Step). An UPDATE
  // that must match one row asks this instead of saying RETURNING: SQLite builds a temporary
  // table for every RETURNING statement, a good part of a small write's cost.
  virtual int64_t Changes() = 0;

  // Runs a statement prepared by Db::PrepareInsert: *id is the id of the row it inserted, 0
  // when it inserted none (ON CONFLICT DO NOTHING, INSERT ... SELECT of no row).
  virtual Status RunInsert(int64_t* id) = 0;

  // Ends the current execution (resets the statement, forgets the bindings) so the cache can
  // hand the statement out again.
  virtual void Release() = 0;
  // Runs a write whose rows and counts nobody reads, to completion or later: PostgreSQL sends it
  // without waiting for its answer when a write transaction is open (pg_db.cc: it is read with
  // the next statement's or the COMMIT's, in their round trip). An error it meets then fails
  // that statement or the commit (a failed statement ends a PostgreSQL transaction anyway).
  // SQLite, and PostgreSQL outside a transaction: run now, as Query::Run.
  virtual Status RunDeferred();
};

// A prepared statement in use: a move-only handle that releases the statement when it goes
// out of scope, so that no half-read SELECT keeps a read snapshot (and locks) open.
class Query {
 public:
  Query() = default;
  explicit Query(Stmt* stmt) : stmt_(stmt) {}
  Query(Query&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Query& operator=(Query&& other) noexcept;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() { Reset(); }

  Query& Bind(int pos, int64_t v) {
    stmt_->BindInt(pos, v);
    return *this;
  }
  Query& Bind(int pos, std::string_view text) {
    stmt_->BindText(pos, text);
    return *this;
  }
  Query& BindBlob(int pos, std::string_view bytes) {
    stmt_->BindBlob(pos, bytes);
    return *this;
  }
  Query& BindNull(int pos) {
    stmt_->BindNull(pos);
    return *this;
  }

  Status Step(bool* row) { return stmt_->Step(row); }
  // Runs the statement to completion, discarding any rows.
  Status Run();
  // A write whose outcome only the transaction's commit needs to know (Stmt::RunDeferred).
  Status RunDeferred() { return stmt_->RunDeferred(); }
  // Runs it (a write without RETURNING) and sets *changed to the rows it changed.
  Status RunCounting(int64_t* changed);
  // Runs an insert of at most one row prepared by Db::PrepareInsert: *id as Stmt::RunInsert.
  Status RunInsert(int64_t* id) { return stmt_->RunInsert(id); }

  bool IsNull(int col) { return stmt_->IsNull(col); }
  int64_t Int(int col) { return stmt_->Int(col); }
  std::string_view Text(int col) { return stmt_->Text(col); }
  std::string_view Blob(int col) { return stmt_->Blob(col); }

  // Releases the statement early.
  void Reset();

 private:
  Stmt* stmt_ = nullptr;
};

class Db {
 public:
  virtual ~Db() = default;

  virtual Dialect dialect() const = 0;

  // Runs SQL text without parameters or results; may hold several statements (schema scripts).
  virtual Status Exec(std::string_view sql) = 0;

  // A prepared statement for |sql|, from the connection's cache (prepared on first use). A
  // statement cannot be used twice at once: preparing SQL whose Query is still alive fails.
  virtual Status Prepare(std::string_view sql, Query* out) = 0;
  // An INSERT of at most one row into a table whose key is "id", written as
  // "INSERT ... RETURNING id", to be run with Query::RunInsert. SQLite runs it without the
  // RETURNING (which costs a temporary table per statement) and reads the rowid instead.
  virtual Status PrepareInsert(std::string_view sql, Query* out) = 0;

  // A write transaction. SQLite: BEGIN IMMEDIATE takes the write lock at once, so it cannot
  // fail later on a lock upgrade. PostgreSQL: READ COMMITTED, writers serialize on the rows
  // they change (pg_db.h says why).
  virtual Status BeginWrite() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual bool InTransaction() const = 0;
  // Ok while the write transaction BeginWrite opened can still commit (or none is open);
  // else the error that doomed it (the disk is full, an I/O error, SQLite ended it): then
  // every statement is refused until Commit (which fails) or Rollback ends it.
  virtual Status TransactionStatus() const = 0;
};

// Makes a group of statements all-or-nothing. Outside a transaction it opens a write
// transaction; inside one (the caller's Store::Begin) it opens a savepoint, so that one failed
// operation in a batch leaves no half-written state without undoing the rest of the batch.
// Rolls back unless Commit() is called.
class WriteScope {
 public:
  explicit WriteScope(Db* db) : db_(db) {}
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;
  ~WriteScope();

  Status Open();
  Status Commit();

 private:
  enum class Kind { kNone, kTransaction, kSavepoint };
  Status RunCached(std::string_view sql);

  Db* db_;
  Kind kind_ = Kind::kNone;
};

}  // namespace grove::sql
