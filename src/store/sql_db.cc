#include "store/sql_db.h"

namespace grove::sql {

// The statement as one short line, to say in an error message which query failed.
std::string Abbreviate(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= 80) {
      out += "...";
      break;
    }
  }
  return out;
}

Query& Query::operator=(Query&& other) noexcept {
  if (this != &other) {
    Reset();
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

void Query::Reset() {
  if (stmt_ != nullptr) {
    stmt_->Release();
    stmt_ = nullptr;
  }
}

Status Query::Run() {
  bool row = true;
  while (row) GROVE_RETURN_IF_ERROR(stmt_->Step(&row));
  return Status::Ok();
}

Status Stmt::RunDeferred() {
  bool row = true;
  while (row) GROVE_RETURN_IF_ERROR(Step(&row));
  return Status::Ok();
}

Status Query::RunCounting(int64_t* changed) {
  *changed = 0;
  GROVE_RETURN_IF_ERROR(Run());
  *changed = stmt_->Changes();
  return Status::Ok();
}

namespace {
// One name serves every level: both engines resolve a savepoint name to the innermost one.
constexpr std::string_view kSavepoint = "SAVEPOINT grove_scope";
constexpr std::string_view kRelease = "RELEASE SAVEPOINT grove_scope";
constexpr std::string_view kRollbackTo = "ROLLBACK TO SAVEPOINT grove_scope";
}  // namespace

Status WriteScope::RunCached(std::string_view sql) {
  Query q;
  GROVE_RETURN_IF_ERROR(db_->Prepare(sql, &q));
  return q.Run();
}

Status WriteScope::Open() {
  if (db_->InTransaction()) {
    GROVE_RETURN_IF_ERROR(RunCached(kSavepoint));
    kind_ = Kind::kSavepoint;
  } else {
    GROVE_RETURN_IF_ERROR(db_->BeginWrite());
    kind_ = Kind::kTransaction;
  }
  return Status::Ok();
}

Status WriteScope::Commit() {
  Kind kind = kind_;
  kind_ = Kind::kNone;
  switch (kind) {
    case Kind::kSavepoint:
      return RunCached(kRelease);
    case Kind::kTransaction:
      return db_->Commit();
    case Kind::kNone:
      break;
  }
  return Status::Ok();
}

WriteScope::~WriteScope() {
  if (kind_ == Kind::kTransaction) {
    // Also when an error already ended it: the Db learns the transaction is over.
    (void)db_->Rollback();
    return;
  }
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) end the whole transaction on their own; then
  // there is no savepoint left to roll back to (the transaction's owner finds it lost).
  if (kind_ == Kind::kSavepoint && db_->InTransaction()) {
    // Rolling back to a savepoint keeps it open; releasing it afterwards removes it.
    (void)RunCached(kRollbackTo);
    (void)RunCached(kRelease);
  }
}

}  // namespace grove::sql
