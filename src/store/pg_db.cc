#include "store/pg_db.h"

#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/string_hash.h"
#include "store/pg_handles.h"

namespace grove::sql {

std::string PgOneLine(const char* text) {
  std::string out;
  bool space = false;
  for (const char* p = text ? text : ""; *p; ++p) {
    char c = *p;
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.rfind("ERROR: ", 0) == 0) out.erase(0, 7);
  if (out.rfind("FATAL: ", 0) == 0) out.erase(0, 7);
  return out;
}

namespace {

// Type OIDs (PostgreSQL's catalog; stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kNumericOid = 1700;

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};

bool StartsWithWord(std::string_view sql, std::string_view word) {
  size_t i = sql.find_first_not_of(" \t\r\n(");
  if (i == std::string_view::npos || sql.size() - i < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (std::toupper(static_cast<unsigned char>(sql[i + k])) != word[k]) return false;
  }
  return true;
}

// Transaction control runs as simple queries: it has no parameters, and an aborted transaction
// accepts nothing else.
bool IsTransactionControl(std::string_view sql) {
  return StartsWithWord(sql, "BEGIN") || StartsWithWord(sql, "COMMIT") ||
         StartsWithWord(sql, "ROLLBACK") || StartsWithWord(sql, "SAVEPOINT") ||
         StartsWithWord(sql, "RELEASE");
}

// Valid UTF-8 without NUL, as PostgreSQL's text accepts it; anything else becomes U+FFFD.
// Returns false (and leaves |out| alone) when |s| is fine as it is.
bool SanitizeText(std::string_view s, std::string* out) {
  auto valid_at = [&](size_t i, size_t* len) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) return *len = 1, true;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    if (c == 0xE0 && p[i + 1] < 0xA0) return false;   // overlong
    if (c == 0xED && p[i + 1] >= 0xA0) return false;  // surrogates
    if (c == 0xF0 && p[i + 1] < 0x90) return false;   // overlong
    if (c == 0xF4 && p[i + 1] >= 0x90) return false;  // > U+10FFFF
    return *len = n, true;
  };
  size_t i = 0, len = 0;
  while (i < s.size() && valid_at(i, &len)) i += len;
  if (i == s.size()) return false;
  out->assign(s.substr(0, i));
  while (i < s.size()) {
    if (valid_at(i, &len)) {
      out->append(s.substr(i, len));
      i += len;
    } else {
      out->append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return true;
}

// The highest $N in |sql| outside quoted strings and identifiers: PostgreSQL would accept
// values for parameters the statement never uses, where SQLite reports them.
int MaxParameter(std::string_view sql) {
  int max = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '$' && i + 1 < sql.size() &&
               std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      int n = 0;
      auto [p, ec] = std::from_chars(sql.data() + i + 1, sql.data() + sql.size(), n);
      if (ec == std::errc()) max = std::max(max, n);
      i = p - sql.data() - 1;
    }
  }
  return max;
}

int64_t ReadBigEndian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  // Sign-extend the shorter integer types.
  if (n < 8 && n > 0 && (static_cast<unsigned char>(p[0]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
  return static_cast<int64_t>(v);
}

// An integral NUMERIC in binary form (SUM() of BIGINTs): ndigits, weight, sign, dscale, then
// base-10000 digits.
int64_t ReadNumeric(const char* p, size_t n) {
  if (n < 8) return 0;
  const int ndigits = static_cast<int>(ReadBigEndian(p, 2));
  const int weight = static_cast<int>(ReadBigEndian(p + 2, 2));
  const auto sign = static_cast<uint16_t>(ReadBigEndian(p + 4, 2));
  if (n < 8 + 2 * static_cast<size_t>(ndigits)) return 0;
  int64_t v = 0;
  for (int i = 0; i <= weight; ++i) {
    const int64_t digit = i < ndigits ? ReadBigEndian(p + 8 + 2 * i, 2) : 0;
    v = v * 10000 + digit;
  }
  return sign == 0x4000 ? -v : v;
}

class PgDb;

class PgStmt final : public Stmt {
 public:
  PgStmt(PgDb* db, std::string sql, std::string name)
      : db_(db),
        sql_(std::move(sql)),
        name_(std::move(name)),
        utility_(IsTransactionControl(sql_)),
        max_param_(MaxParameter(sql_)) {}

  bool in_use() const { return in_use_; }
  void Acquire() { in_use_ = true; }
  const std::string& sql() const { return sql_; }

  void BindInt(int pos, int64_t v) override {
    if (Param* p = At(pos)) {
      const uint64_t be = htobe64(static_cast<uint64_t>(v));
      p->value.assign(reinterpret_cast<const char*>(&be), 8);
      p->type = kInt8Oid;
      p->null = false;
    }
  }
  void BindText(int pos, std::string_view v) override {
    if (Param* p = At(pos)) {
      if (!SanitizeText(v, &p->value)) p->value.assign(v);
      p->type = kTextOid;
      p->null = false;
    }
  }
  void BindBlob(int pos, std::string_view v) override {
    if (Param* p = At(pos)) {
      p->value.assign(v);
      p->type = kByteaOid;
      p->null = false;
    }
  }
  void BindNull(int pos) override {
    if (Param* p = At(pos)) {
      p->value.clear();
      p->type = 0;
      p->null = true;
    }
  }

  Status Step(bool* row) override;
  Status RunDeferred() override;

  bool IsNull(int col) override { return PQgetisnull(result_.get(), row_, col) != 0; }
  int64_t Int(int col) override {
    if (IsNull(col)) return 0;
    const char* p = PQgetvalue(result_.get(), row_, col);
    const size_t n = PQgetlength(result_.get(), row_, col);
    switch (PQftype(result_.get(), col)) {
      case kInt8Oid:
      case kInt4Oid:
      case kInt2Oid:
      case kOidOid:
      case kBoolOid:
        return ReadBigEndian(p, n);
      case kNumericOid:
        return ReadNumeric(p, n);
      default: {  // text-like: parse it as SQLite would
        int64_t v = 0;
        std::from_chars(p, p + n, v);
        return v;
      }
    }
  }
  std::string_view Text(int col) override {
    const Oid type = PQftype(result_.get(), col);
    if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid || type == kNumericOid) {
      if (IsNull(col)) return {};
      text_ = std::to_string(Int(col));
      return text_;
    }
    return Blob(col);
  }
  std::string_view Blob(int col) override {
    if (IsNull(col)) return {};
    return {PQgetvalue(result_.get(), row_, col),
            static_cast<size_t>(PQgetlength(result_.get(), row_, col))};
  }

  Status RunInsert(int64_t* id) override {
    *id = 0;
    bool row = false;
    GROVE_RETURN_IF_ERROR(Step(&row));
    if (row) *id = Int(0);
    return Status::Ok();
  }

  int64_t Changes() override {
    if (result_ == nullptr) return 0;
    int64_t n = 0;
    const char* text = PQcmdTuples(result_.get());  // "" for a statement that changes no rows
    std::from_chars(text, text + std::strlen(text), n);
    return n;
  }

  void Release() override {
    result_.reset();
    for (Param& p : params_) p = Param{};
    bind_error_ = Status::Ok();
    executed_ = false;
    row_ = -1;
    in_use_ = false;
  }

  // Forgets the server-side statement (the connection it lived on is gone).
  void Forget() { prepared_generation_ = 0; }

 private:
  struct Param {
    std::string value;
    Oid type = 0;
    bool null = true;
  };

  Param* At(int pos) {
    if (pos < 1 || pos > max_param_) {
      if (bind_error_.ok())
        bind_error_ = Status::Invalid("postgresql: no parameter $" + std::to_string(pos) +
                                      " (in: " + Abbreviate(sql_) + ")");
      return nullptr;
    }
    if (static_cast<size_t>(pos) > params_.size()) params_.resize(pos);
    return &params_[pos - 1];
  }

  Status Execute();
  Status ExecuteOnce();
  // Whether the server-side statement fits the bound parameters (else PrepareOnServer
  // prepares it, in round trips of its own).
  bool PreparedAsBound() const;
  Status PrepareOnServer();
  // The bound values as libpq takes them, checked against the prepared types.
  Status Values(std::vector<const char*>* values, std::vector<int>* lengths,
                std::vector<int>* formats) const;

  PgDb* db_;
  std::string sql_;
  std::string name_;
  bool utility_;
  int max_param_;
  std::vector<Param> params_;
  Status bind_error_;
  ResultPtr result_;
  int row_ = -1;
  bool executed_ = false;
  bool in_use_ = false;
  // The connection generation the server-side statement was prepared on (0: not prepared),
  // its parameter types and its parameter count.
  uint64_t prepared_generation_ = 0;
  std::vector<Oid> prepared_types_;
  int prepared_params_ = 0;
  std::string text_;  // Text() of a number
};

class PgDb final : public Db {
 public:
  PgDb(std::string url, std::string password)
      : url_(std::move(url)), password_(std::move(password)), redacted_(RedactPostgresUrl(url_)) {}

  Dialect dialect() const override { return Dialect::kPostgres; }

  // Connects now (OpenPostgresDb): a failure is the caller's to report.
  Status Connect() {
    // Defaults first: the URL's own parameters, expanded from "dbname", come later and win.
    std::vector<const char*> keys = {"connect_timeout",  "keepalives_idle",  "keepalives_interval",
                                     "keepalives_count", "application_name", "dbname"};
    std::vector<const char*> values = {"10", "30", "10", "3", "grove", url_.c_str()};
    if (!password_.empty()) {
      keys.push_back("password");
      values.push_back(password_.c_str());
    }
    keys.push_back("client_encoding");
    values.push_back("UTF8");
    keys.push_back(nullptr);
    values.push_back(nullptr);
    ConnPtr conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
    if (conn == nullptr) return Status::Unavailable("postgresql: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return Status::Unavailable("cannot connect to the store " + redacted_ + ": " +
                                 PgOneLine(PQerrorMessage(conn.get())));
    }
    conn_ = std::move(conn);
    ++generation_;
    backoff_ = kFirstBackoff;
    return Status::Ok();
  }

  Status Exec(std::string_view sql) override {
    GROVE_RETURN_IF_ERROR(Settle());
    GROVE_RETURN_IF_ERROR(Usable());
    const bool first = begin_pending_;
    Status begun = SendBegin();
    if (first && begun.code() == Status::Code::kUnavailable && ReopenAfterDeadStart())
      begun = SendBegin();
    GROVE_RETURN_IF_ERROR(begun);
    std::string text(sql);
    ResultPtr r(PQexec(conn_.get(), text.c_str()));
    return Check(r.get(), sql);
  }

  // RETURNING id costs PostgreSQL nothing much: the statement is run as written.
  Status PrepareInsert(std::string_view sql, Query* out) override { return Prepare(sql, out); }

  Status Prepare(std::string_view sql, Query* out) override {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      std::string name = "grove_" + std::to_string(cache_.size() + 1);
      it = cache_.emplace(std::string(sql), std::make_unique<PgStmt>(this, std::string(sql), name))
               .first;
    }
    PgStmt* stmt = it->second.get();
    if (stmt->in_use()) {
      return Status::Invalid("postgresql: statement already in use (in: " + Abbreviate(sql) + ")");
    }
    stmt->Acquire();
    *out = Query(stmt);
    return Status::Ok();
  }

  // BEGIN is sent with the transaction's first statement, in the same round trip (RunFirst):
  // a batch costs one round trip less, and one that runs no statement costs none.
  Status BeginWrite() override {
    if (txn_ != TxnState::kNone) return Status::Invalid("postgresql: a transaction is open");
    GROVE_RETURN_IF_ERROR(Usable());
    txn_ = TxnState::kOpen;
    begin_pending_ = true;
    abort_error_ = Status::Ok();
    doom_ = Status::Ok();
    return Status::Ok();
  }

  bool begin_pending() const { return begin_pending_; }

  // The transaction's first statement (with its BEGIN) failed on a lost connection: nothing of
  // the transaction reached the server, so a fresh connection may take it from the start (as a
  // BEGIN found a connection that died while idle). False when none can be had.
  bool ReopenAfterDeadStart() {
    if (txn_ != TxnState::kLost) return false;
    txn_ = TxnState::kNone;
    next_attempt_ = Clock::time_point{};
    if (!Usable().ok()) {
      txn_ = TxnState::kLost;
      return false;
    }
    txn_ = TxnState::kOpen;
    begin_pending_ = true;
    abort_error_ = Status::Ok();
    doom_ = Status::Ok();
    return true;
  }

  // The deferred BEGIN on its own, before what cannot share its round trip (simple queries).
  Status SendBegin() {
    if (!begin_pending_) return Status::Ok();
    begin_pending_ = false;
    ResultPtr r(PQexec(conn_.get(), "BEGIN"));
    return Check(r.get(), "BEGIN");
  }

  // The deferred BEGIN and the prepared statement |name| in one round trip (libpq's pipeline
  // mode); |out| gets the statement's result.
  Status RunFirst(const std::string& name, int n, const char* const* values, const int* lengths,
                  const int* formats, std::string_view sql, ResultPtr* out) {
    begin_pending_ = false;
    PGconn* c = conn_.get();
    if (PQenterPipelineMode(c) != 1)
      return SendBeginThenRun(name, n, values, lengths, formats, sql, out);
    const bool sent =
        PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1 &&
        PQsendQueryPrepared(c, name.c_str(), n, values, lengths, formats, 1) == 1 &&
        PQpipelineSync(c) == 1;
    ResultPtr begin, stmt;
    if (sent) {
      // Each query's results end with a NULL; the sync's own result comes last.
      begin.reset(PQgetResult(c));
      if (begin) Drain(c);
      stmt.reset(PQgetResult(c));
      if (stmt) Drain(c);
      ResultPtr sync(PQgetResult(c));
    }
    if (PQexitPipelineMode(c) != 1 || !sent) {
      // Results left unread or a broken connection: it cannot be trusted any more.
      return Lost(PgOneLine(PQerrorMessage(c)));
    }
    GROVE_RETURN_IF_ERROR(Check(begin.get(), "BEGIN"));
    *out = std::move(stmt);
    return Check(out->get(), sql);
  }

  Status Commit() override {
    if (txn_ == TxnState::kNone) return Status::Invalid("postgresql: no transaction to commit");
    if (txn_ == TxnState::kLost) {
      txn_ = TxnState::kNone;
      return lost_error_;
    }
    txn_ = TxnState::kNone;
    if (begin_pending_) {  // nothing was sent: nothing to commit
      begin_pending_ = false;
      return doom_;
    }
    if (!deferred_.empty() && doom_.ok()) return CommitPipelined();
    if (!deferred_.empty() && !Settle().ok() && conn_ == nullptr) return lost_error_;
    if (!doom_.ok()) {
      // A batch is all or nothing: a statement the server could not carry out for want of
      // resources (a full disk) fails the whole transaction, even after its savepoint's undo.
      ResultPtr r(PQexec(conn_.get(), "ROLLBACK"));
      (void)Check(r.get(), "ROLLBACK");
      return doom_;
    }
    if (PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
      // PostgreSQL would answer COMMIT with ROLLBACK: say so instead of reporting success.
      ResultPtr r(PQexec(conn_.get(), "ROLLBACK"));
      (void)Check(r.get(), "ROLLBACK");
      return Status::IoError("postgresql: the transaction was rolled back after an error: " +
                             abort_error_.message());
    }
    ResultPtr r(PQexec(conn_.get(), "COMMIT"));
    Status st = Check(r.get(), "COMMIT");
    if (st.ok() && std::string_view(PQcmdStatus(r.get())) == "ROLLBACK") {
      return Status::IoError("postgresql: the transaction was rolled back: " +
                             abort_error_.message());
    }
    return st;
  }

  Status Rollback() override {
    if (txn_ == TxnState::kNone) return Status::Ok();
    const bool lost = txn_ == TxnState::kLost;
    txn_ = TxnState::kNone;
    if (begin_pending_) {
      begin_pending_ = false;
      return Status::Ok();
    }
    if (lost) return Status::Ok();  // the server dropped it with the connection
    (void)Settle();                 // their errors do not matter any more
    if (conn_ == nullptr) return Status::Ok();
    ResultPtr r(PQexec(conn_.get(), "ROLLBACK"));
    return Check(r.get(), "ROLLBACK");
  }

  bool InTransaction() const override { return txn_ != TxnState::kNone; }

  Status TransactionStatus() const override {
    if (txn_ == TxnState::kLost) return lost_error_;
    if (txn_ == TxnState::kNone) return Status::Ok();
    return doom_;
  }

  // --- For PgStmt ---

  PGconn* conn() { return conn_.get(); }
  uint64_t generation() const { return generation_; }
  bool in_transaction_block() const { return txn_ == TxnState::kOpen; }

  // Whether statements can be sent: connected (reconnecting when the backoff allows) and not
  // inside a transaction that a lost connection ended.
  Status Usable() {
    if (txn_ == TxnState::kLost) return lost_error_;
    if (conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK) return Status::Ok();
    // Never carry on in autocommit on a new connection as if the old transaction were open.
    if (txn_ == TxnState::kOpen) return Lost("the connection was closed");
    const auto now = Clock::now();
    if (now < next_attempt_) return lost_error_;
    Status st = Connect();
    if (!st.ok()) {
      next_attempt_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
      lost_error_ = st;
      return st;
    }
    return Status::Ok();
  }

  // The Status of a finished command: ok, or an error classified by its SQLSTATE. A broken
  // connection is Unavailable, and ends any open transaction.
  Status Check(PGresult* r, std::string_view sql) {
    const ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)
      return Status::Ok();
    std::string msg = PgOneLine(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get()));
    if (msg.empty()) msg = PgOneLine(PQerrorMessage(conn_.get()));
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string_view code = state ? state : "";
    if (PQstatus(conn_.get()) != CONNECTION_OK || code.rfind("08", 0) == 0 ||
        code.rfind("57P", 0) == 0) {
      return Lost(msg);
    }
    Status st = code.rfind("23", 0) == 0
                    ? Status::Conflict("postgresql: " + msg + " (in: " + Abbreviate(sql) + ")")
                    : Status::IoError("postgresql: " + msg + " (in: " + Abbreviate(sql) + ")");
    if (txn_ == TxnState::kOpen && abort_error_.ok() &&
        PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
      abort_error_ = st;
    }
    // Insufficient resources (53: disk full, out of memory), system and internal errors (58,
    // XX): the environment failed, not the statement; the transaction must not commit.
    if (txn_ == TxnState::kOpen && doom_.ok() &&
        (code.rfind("53", 0) == 0 || code.rfind("58", 0) == 0 || code.rfind("XX", 0) == 0)) {
      doom_ = st;
    }
    return st;
  }

  // Reads what is left of one query's results in pipeline mode, up to its closing NULL.
  static void Drain(PGconn* c) {
    while (PGresult* r = PQgetResult(c)) PQclear(r);
  }

  Status SendBeginThenRun(const std::string& name, int n, const char* const* values,
                          const int* lengths, const int* formats, std::string_view sql,
                          ResultPtr* out) {
    begin_pending_ = true;
    GROVE_RETURN_IF_ERROR(SendBegin());
    out->reset(PQexecPrepared(conn_.get(), name.c_str(), n, values, lengths, formats, 1));
    return Check(out->get(), sql);
  }

  // --- Deferred writes (Stmt::RunDeferred) ---
  //
  // A write nobody reads the outcome of (a batch's ends: its steps', builds' and requests'
  // rows) is sent in libpq's pipeline mode without waiting for its answer. The answers are read
  // with the COMMIT's, in its one round trip (CommitPipelined), or before any other statement
  // (Settle): a batch's ends cost no round trip of their own. An error the server met in one of
  // them fails the statement or the commit that reads it; a PostgreSQL transaction ends at its
  // first error in any case, so the batch is all or nothing as before.

  // False when the connection cannot enter pipeline mode: then the caller runs it now.
  bool Defer(const std::string& name, const std::string& sql, int n, const char* const* values,
             const int* lengths, const int* formats, Status* st) {
    PGconn* c = conn_.get();
    if (deferred_.empty() && PQenterPipelineMode(c) != 1) return false;
    if (PQsendQueryPrepared(c, name.c_str(), n, values, lengths, formats, 1) != 1) {
      *st = Lost(PgOneLine(PQerrorMessage(c)));
      return true;
    }
    deferred_.push_back(&sql);
    *st = Status::Ok();
    return true;
  }

  // Reads the answers of the deferred writes: the first error among them, if any.
  Status Settle() {
    if (deferred_.empty()) return Status::Ok();
    PGconn* c = conn_.get();
    if (PQpipelineSync(c) != 1) return Lost(PgOneLine(PQerrorMessage(c)));
    Status first = ReadDeferred();
    if (conn_ == nullptr) return first;  // lost meanwhile
    ResultPtr sync(PQgetResult(c));
    if (PQexitPipelineMode(c) != 1) return Lost(PgOneLine(PQerrorMessage(c)));
    return first;
  }

  // Sends COMMIT after the deferred writes and reads every answer: one round trip.
  Status CommitPipelined() {
    PGconn* c = conn_.get();
    if (PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1 ||
        PQpipelineSync(c) != 1)
      return Lost(PgOneLine(PQerrorMessage(c)));
    Status first = ReadDeferred();
    if (conn_ == nullptr) return first;
    ResultPtr commit(PQgetResult(c));
    if (commit) Drain(c);
    ResultPtr sync(PQgetResult(c));
    if (PQexitPipelineMode(c) != 1) return Lost(PgOneLine(PQerrorMessage(c)));
    if (!first.ok()) {
      // The COMMIT was skipped: the transaction is aborted, and ended here.
      ResultPtr r(PQexec(c, "ROLLBACK"));
      (void)Check(r.get(), "ROLLBACK");
      if (first.code() == Status::Code::kUnavailable) return first;
      return Status::IoError("postgresql: the transaction was rolled back after an error: " +
                             first.message());
    }
    Status st = Check(commit.get(), "COMMIT");
    if (st.ok() && std::string_view(PQcmdStatus(commit.get())) == "ROLLBACK") {
      return Status::IoError("postgresql: the transaction was rolled back: " +
                             abort_error_.message());
    }
    return st;
  }

  // Each deferred write's answer, in order; after the first error the rest were skipped.
  Status ReadDeferred() {
    std::vector<const std::string*> sent = std::move(deferred_);
    deferred_.clear();
    PGconn* c = conn_.get();
    Status first;
    for (const std::string* sql : sent) {
      ResultPtr r(PQgetResult(c));
      if (r) Drain(c);
      if (!first.ok()) continue;
      first = Check(r.get(), *sql);
      if (conn_ == nullptr) return first;  // Check found the connection broken
      // Check cannot tell the transaction's state in pipeline mode: it is aborted.
      if (!first.ok() && abort_error_.ok()) abort_error_ = first;
    }
    return first;
  }

  // The connection broke: drop it, and with it any transaction and every server-side statement.
  Status Lost(const std::string& why) {
    lost_error_ = Status::Unavailable("the store " + redacted_ + " is unavailable: " + why);
    conn_.reset();
    begin_pending_ = false;
    deferred_.clear();
    for (auto& [sql, stmt] : cache_) stmt->Forget();
    if (txn_ == TxnState::kOpen) txn_ = TxnState::kLost;
    // Try again at once on the next call (a restarted server may be back already); later
    // failures back off.
    next_attempt_ = Clock::time_point{};
    return lost_error_;
  }

 private:
  enum class TxnState { kNone, kOpen, kLost };

  std::string url_;
  std::string password_;
  std::string redacted_;
  ConnPtr conn_;
  uint64_t generation_ = 0;  // incremented by every successful connection
  TxnState txn_ = TxnState::kNone;
  bool begin_pending_ = false;  // the open transaction's BEGIN is not sent yet (BeginWrite)
  Status abort_error_;          // the error that aborted the open transaction
  Status doom_;                 // an environmental error in the open transaction: it cannot commit
  Status lost_error_ = Status::Unavailable("the store is not connected");
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_ = kFirstBackoff;
  std::unordered_map<std::string, std::unique_ptr<PgStmt>, StringHash, std::equal_to<>> cache_;
  // The SQL of the writes sent in pipeline mode whose answers are not read yet (Defer).
  std::vector<const std::string*> deferred_;
};

bool PgStmt::PreparedAsBound() const {
  if (prepared_generation_ != db_->generation()) return false;
  // Prepared on this connection; again only when a parameter's type changed (a NULL fits any
  // type).
  bool same = params_.size() <= prepared_types_.size();
  for (size_t i = 0; same && i < params_.size(); ++i)
    same = params_[i].null || params_[i].type == prepared_types_[i];
  return same;
}

Status PgStmt::PrepareOnServer() {
  std::vector<Oid> types(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) types[i] = params_[i].type;
  PGconn* conn = db_->conn();
  if (prepared_generation_ == db_->generation()) {
    if (PreparedAsBound()) return Status::Ok();
    std::string dealloc = "DEALLOCATE " + name_;
    ResultPtr r(PQexec(conn, dealloc.c_str()));
    GROVE_RETURN_IF_ERROR(db_->Check(r.get(), dealloc));
    prepared_generation_ = 0;
  }
  ResultPtr r(
      PQprepare(conn, name_.c_str(), sql_.c_str(), static_cast<int>(types.size()), types.data()));
  GROVE_RETURN_IF_ERROR(db_->Check(r.get(), sql_));
  ResultPtr d(PQdescribePrepared(conn, name_.c_str()));
  GROVE_RETURN_IF_ERROR(db_->Check(d.get(), sql_));
  prepared_params_ = PQnparams(d.get());
  prepared_types_.resize(prepared_params_);
  for (int i = 0; i < prepared_params_; ++i) prepared_types_[i] = PQparamtype(d.get(), i);
  prepared_generation_ = db_->generation();
  return Status::Ok();
}

Status PgStmt::Execute() {
  const bool first = db_->begin_pending();
  Status st = ExecuteOnce();
  if (first && st.code() == Status::Code::kUnavailable && db_->ReopenAfterDeadStart())
    st = ExecuteOnce();
  return st;
}

Status PgStmt::Values(std::vector<const char*>* values, std::vector<int>* lengths,
                      std::vector<int>* formats) const {
  const int n = prepared_params_;
  values->assign(n, nullptr);
  lengths->assign(n, 0);
  formats->assign(n, 1);
  for (int i = 0; i < n && i < static_cast<int>(params_.size()); ++i) {
    const Param& p = params_[i];
    if (p.null) continue;
    if (p.type != prepared_types_[i]) {
      return Status::Invalid("postgresql: parameter $" + std::to_string(i + 1) +
                             " has the wrong type (in: " + Abbreviate(sql_) + ")");
    }
    (*values)[i] = p.value.data();
    (*lengths)[i] = static_cast<int>(p.value.size());
  }
  return Status::Ok();
}

Status PgStmt::ExecuteOnce() {
  GROVE_RETURN_IF_ERROR(db_->Settle());  // deferred writes first: their answers come first
  GROVE_RETURN_IF_ERROR(db_->Usable());
  PGconn* conn = db_->conn();
  if (utility_) {
    if (!params_.empty())
      return Status::Invalid("postgresql: transaction control takes no parameters");
    GROVE_RETURN_IF_ERROR(db_->SendBegin());
    result_.reset(PQexec(conn, sql_.c_str()));
    return db_->Check(result_.get(), sql_);
  }
  GROVE_RETURN_IF_ERROR(PrepareOnServer());
  const int n = prepared_params_;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  GROVE_RETURN_IF_ERROR(Values(&values, &lengths, &formats));
  if (db_->begin_pending())
    return db_->RunFirst(name_, n, values.data(), lengths.data(), formats.data(), sql_, &result_);
  result_.reset(PQexecPrepared(conn, name_.c_str(), n, values.data(), lengths.data(),
                               formats.data(), /*resultFormat=*/1));
  return db_->Check(result_.get(), sql_);
}

Status PgStmt::RunDeferred() {
  if (!bind_error_.ok()) return bind_error_;
  // Outside a transaction a write's answer is its commit: it is waited for. A transaction's
  // first statement goes with its BEGIN (RunFirst), which may find the connection dead and
  // start over on a new one: that is only known from its answer.
  if (utility_ || executed_ || !db_->in_transaction_block() || db_->begin_pending())
    return Stmt::RunDeferred();
  GROVE_RETURN_IF_ERROR(db_->Usable());
  if (!PreparedAsBound()) {
    GROVE_RETURN_IF_ERROR(db_->Settle());
    GROVE_RETURN_IF_ERROR(PrepareOnServer());
  }
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  GROVE_RETURN_IF_ERROR(Values(&values, &lengths, &formats));
  Status st;
  if (!db_->Defer(name_, sql_, prepared_params_, values.data(), lengths.data(), formats.data(),
                  &st))
    return Stmt::RunDeferred();
  executed_ = true;
  return st;
}

Status PgStmt::Step(bool* row) {
  *row = false;
  if (!bind_error_.ok()) return bind_error_;
  if (!executed_) {
    executed_ = true;
    Status st = Execute();
    // A SELECT outside a transaction changed nothing: on a connection found dead, it is run
    // once more on a fresh one.
    if (st.code() == Status::Code::kUnavailable && !db_->InTransaction() &&
        StartsWithWord(sql_, "SELECT")) {
      st = Execute();
    }
    if (!st.ok()) {
      result_.reset();
      return st;
    }
    row_ = 0;
  } else if (result_ != nullptr && row_ < PQntuples(result_.get())) {
    ++row_;
  }
  *row = result_ != nullptr && row_ < PQntuples(result_.get());
  return Status::Ok();
}

}  // namespace

Status OpenPostgresDb(const std::string& url, const std::string& password,
                      std::unique_ptr<Db>* out) {
  auto db = std::make_unique<PgDb>(url, password);
  GROVE_RETURN_IF_ERROR(db->Connect());
  *out = std::move(db);
  return Status::Ok();
}

}  // namespace grove::sql
