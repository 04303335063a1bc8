#include "store/store_copy.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <memory>

#include "store/sql_db.h"
#include "store/sql_store.h"
#include "store/store.h"

namespace grove {
namespace {

using sql::Db;
using sql::Query;

enum class Col { kInt, kText, kBlob };

struct Column {
  const char* name;
  Col type;
};

struct Table {
  const char* name;
  std::vector<Column> columns;
  size_t keys;  // the first |keys| columns are the primary key (the order rows are read in)
  bool identity = false;  // "id" is generated: the target's sequence must follow the copied ids
};

constexpr Col I = Col::kInt;
constexpr Col T = Col::kText;
constexpr Col B = Col::kBlob;

// Every table of the schema but schema_version (the target gets its own by migrating), parents
// before children so that foreign keys hold at each insert. A migration that adds a table adds
// it here (store_test checks that none is missing).
const std::vector<Table>& Tables() {
  static const std::vector<Table> tables = {
      {"requests",
       {{"id", I},
        {"builder", T},
        {"reason", T},
        {"properties", T},
        {"source", T},
        {"state", T},
        {"attempt", I},
        {"priority", I},
        {"worker", T},
        {"result", I},
        {"submitted_at", I},
        {"claimed_at", I},
        {"finished_at", I},
        {"master", T}},
       1,
       true},
      {"builder_numbers", {{"builder", T}, {"last_number", I}}, 1},
      {"builds",
       {{"id", I},
        {"request_id", I},
        {"attempt", I},
        {"builder", T},
        {"number", I},
        {"worker", T},
        {"state", T},
        {"result", I},
        {"started_at", I},
        {"finished_at", I},
        {"properties", T}},
       1,
       true},
      {"steps",
       {{"build_id", I},
        {"idx", I},
        {"name", T},
        {"state", T},
        {"result", I},
        {"started_at", I},
        {"finished_at", I},
        {"log_bytes", I},
        {"log_lines", I},
        {"result_json", T}},
       2},
      {"log_chunks",
       {{"build_id", I},
        {"idx", I},
        {"seq", I},
        {"byte_offset", I},
        {"line_offset", I},
        {"raw_size", I},
        {"lines", I},
        {"data", B}},
       3},
      {"workers",
       {{"name", T},
        {"tags", T},
        {"capacity", I},
        {"connected", I},
        {"paused", I},
        {"last_seen", I},
        {"master", T}},
       1},
      {"scheduler_state", {{"name", T}, {"last_fire", I}, {"data", T}}, 1},
      {"masters",
       {{"name", T}, {"url", T}, {"started_at", I}, {"last_seen", I}, {"config_hash", T}},
       1},
      {"leases", {{"name", T}, {"holder", T}, {"expires_at", I}}, 1},
      {"worker_events", {{"worker", T}, {"instance", T}, {"applied_upto", I}}, 1},
      {"cluster_keys", {{"name", T}, {"value", T}}, 1},
      {"pool_instances",
       {{"name", T},
        {"pool", T},
        {"instance", T},
        {"state", T},
        {"started_at", I},
        {"updated_at", I}},
       1},
      {"changes",
       {{"id", I},
        {"source", T},
        {"repository", T},
        {"branch", T},
        {"revision", T},
        {"author", T},
        {"committed_at", I},
        {"comments", T},
        {"files", T},
        {"created_at", I}},
       1,
       true},
      {"request_changes", {{"request_id", I}, {"change_id", I}}, 2},
      {"step_tests", {{"build_id", I}, {"idx", I}, {"tests", T}}, 2},
      {"artifacts",
       {{"build_id", I}, {"path", T}, {"size", I}, {"sha256", T}, {"created_at", I}},
       2},
      {"request_superseded", {{"request_id", I}, {"by_request", I}}, 1},
      {"webhook_deliveries", {{"provider", T}, {"delivery", T}, {"received_at", I}}, 2},
      {"notifications",
       {{"id", I},
        {"build_id", I},
        {"notifier", T},
        {"kind", T},
        {"event", T},
        {"state", T},
        {"attempts", I},
        {"next_at", I},
        {"answer", T},
        {"created_at", I},
        {"updated_at", I},
        {"sent_at", I}},
       1,
       true},
  };
  return tables;
}

constexpr int kPage = 256;  // rows read per query: a page of log chunks is a few MB at most

// The SQL of one table: the first page, the next page (keys after $1..$k), the insert.
struct TableSql {
  std::string first, next, insert, count;
};

TableSql SqlFor(const Table& t) {
  std::string cols, keys, params, after;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) cols += ", ";
    cols += t.columns[i].name;
    if (i) params += ", ";
    params += "$" + std::to_string(i + 1);
  }
  for (size_t i = 0; i < t.keys; ++i) {
    if (i) keys += ", ", after += ", ";
    keys += t.columns[i].name;
    after += "$" + std::to_string(i + 1);
  }
  const std::string select = std::string("SELECT ") + cols + " FROM " + t.name;
  const std::string order = " ORDER BY " + keys + " LIMIT " + std::to_string(kPage);
  TableSql s;
  s.first = select + order;
  s.next = select + " WHERE (" + keys + ") > (" + after + ")" + order;
  s.insert = std::string("INSERT INTO ") + t.name + " (" + cols + ") VALUES (" + params + ")";
  s.count = std::string("SELECT COUNT(*) FROM ") + t.name;
  return s;
}

// An order-independent checksum of a table's rows: the sum, lane by lane, of each row's SHA-256,
// plus the row count. Rows come back in each database's own key order (text keys may sort
// differently), so the combination must not depend on it.
class TableSum {
 public:
  TableSum() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {}

  void Add(Query& q, const Table& t) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    for (size_t c = 0; c < t.columns.size(); ++c) {
      std::string field;
      if (q.IsNull(static_cast<int>(c))) {
        field = "n";
      } else if (t.columns[c].type == Col::kInt) {
        field = "i" + std::to_string(q.Int(static_cast<int>(c)));
      } else {
        std::string_view v = t.columns[c].type == Col::kBlob ? q.Blob(static_cast<int>(c))
                                                             : q.Text(static_cast<int>(c));
        field = (t.columns[c].type == Col::kBlob ? "b" : "t") + std::to_string(v.size()) + ":";
        field.append(v);
      }
      const uint64_t len = field.size();
      EVP_DigestUpdate(ctx_.get(), &len, sizeof len);
      EVP_DigestUpdate(ctx_.get(), field.data(), field.size());
    }
    unsigned char digest[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &n);
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t v = 0;
      std::memcpy(&v, digest + 8 * lane, 8);
      lanes_[lane] += v;
    }
    ++rows_;
  }

  int64_t rows() const { return rows_; }
  std::string Hex() const {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (uint64_t v : lanes_)
      for (int shift = 60; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
  std::array<uint64_t, 4> lanes_{};
  int64_t rows_ = 0;
};

// Reads every row of |t| from |db| page by page; |row| sees each (and may use |db|'s other
// statements: a page is fully read before the next query).
template <typename Fn>
Status ForEachRow(Db& db, const Table& t, const TableSql& s, Fn row) {
  std::vector<std::string> last_text(t.keys);
  std::vector<int64_t> last_int(t.keys);
  for (bool first = true;; first = false) {
    Query q;
    GROVE_RETURN_IF_ERROR(db.Prepare(first ? s.first : s.next, &q));
    if (!first) {
      for (size_t k = 0; k < t.keys; ++k) {
        if (t.columns[k].type == Col::kInt)
          q.Bind(static_cast<int>(k + 1), last_int[k]);
        else
          q.Bind(static_cast<int>(k + 1), last_text[k]);
      }
    }
    int n = 0;
    for (;; ++n) {
      bool more = false;
      GROVE_RETURN_IF_ERROR(q.Step(&more));
      if (!more) break;
      GROVE_RETURN_IF_ERROR(row(q));
      for (size_t k = 0; k < t.keys; ++k) {
        if (t.columns[k].type == Col::kInt)
          last_int[k] = q.Int(static_cast<int>(k));
        else
          last_text[k] = q.Text(static_cast<int>(k));
      }
    }
    if (n < kPage) return Status::Ok();
  }
}

Status CountRows(Db& db, const TableSql& s, int64_t* count) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(s.count, &q));
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  *count = row ? q.Int(0) : 0;
  return Status::Ok();
}

Status Checksum(Db& db, const Table& t, const TableSql& s, TableSum* sum) {
  return ForEachRow(db, t, s, [&](Query& q) {
    sum->Add(q, t);
    return Status::Ok();
  });
}

Status CopyTable(Db& from, Db& to, const Table& t, const TableSql& s, TableSum* sum) {
  return ForEachRow(from, t, s, [&](Query& q) {
    sum->Add(q, t);
    Query ins;
    GROVE_RETURN_IF_ERROR(to.Prepare(s.insert, &ins));
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const int col = static_cast<int>(c), pos = col + 1;
      if (q.IsNull(col)) {
        ins.BindNull(pos);
      } else if (t.columns[c].type == Col::kInt) {
        ins.Bind(pos, q.Int(col));
      } else if (t.columns[c].type == Col::kBlob) {
        ins.BindBlob(pos, q.Blob(col));
      } else {
        ins.Bind(pos, q.Text(col));
      }
    }
    return ins.Run();
  });
}

// After ids were inserted explicitly, PostgreSQL's identity sequence must continue after them.
Status FollowIds(Db& to, const Table& t) {
  if (!t.identity || to.dialect() != sql::Dialect::kPostgres) return Status::Ok();
  const std::string name = t.name;
  return to.Exec("SELECT setval(pg_get_serial_sequence('" + name + "', 'id'), (SELECT " +
                 "COALESCE(MAX(id), 0) + 1 FROM " + name + "), false)");
}

Status Open(const StoreEndpoint& e, const std::string& base_dir, const char* which,
            std::unique_ptr<Db>* db) {
  Status st = OpenMigratedDb(e.url, base_dir, e.password, db);
  if (st.ok()) return st;
  const std::string msg = std::string(which) + " store: " + st.message();
  switch (st.code()) {
    case Status::Code::kInvalid:
      return Status::Invalid(msg);
    case Status::Code::kUnavailable:
      return Status::Unavailable(msg);
    default:
      return Status::IoError(msg);
  }
}

}  // namespace

std::vector<std::string> CopiedTables() {
  std::vector<std::string> out;
  for (const Table& t : Tables()) out.push_back(t.name);
  return out;
}

Status CopyStore(const StoreEndpoint& from, const StoreEndpoint& to, const std::string& base_dir,
                 std::vector<TableCopy>* report) {
  report->clear();
  if (from.url == to.url) return Status::Invalid("the source and the target are the same store");
  std::unique_ptr<Db> src, dst;
  GROVE_RETURN_IF_ERROR(Open(from, base_dir, "source", &src));
  GROVE_RETURN_IF_ERROR(Open(to, base_dir, "target", &dst));

  std::vector<TableSql> sql;
  for (const Table& t : Tables()) sql.push_back(SqlFor(t));
  for (size_t i = 0; i < Tables().size(); ++i) {
    int64_t rows = 0;
    GROVE_RETURN_IF_ERROR(CountRows(*dst, sql[i], &rows));
    if (rows != 0) {
      return Status::Invalid("the target store " + RedactedStoreUrl(to.url) + " is not empty (" +
                             Tables()[i].name + " has " + std::to_string(rows) +
                             " rows); copy into a new, empty database");
    }
  }

  // One snapshot of the source: a read transaction (SQLite) or a repeatable-read one.
  GROVE_RETURN_IF_ERROR(src->Exec(src->dialect() == sql::Dialect::kPostgres
                                      ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                      : "BEGIN"));
  GROVE_RETURN_IF_ERROR(dst->BeginWrite());
  Status st;
  for (size_t i = 0; i < Tables().size() && st.ok(); ++i) {
    const Table& t = Tables()[i];
    TableSum copied, check;
    st = CopyTable(*src, *dst, t, sql[i], &copied);
    if (st.ok()) st = FollowIds(*dst, t);
    // Read back from the target, inside the transaction: what would be committed.
    if (st.ok()) st = Checksum(*dst, t, sql[i], &check);
    if (st.ok() && (check.rows() != copied.rows() || check.Hex() != copied.Hex())) {
      st = Status::IoError(std::string("the copy of ") + t.name +
                           " does not check: " + std::to_string(copied.rows()) + " rows read, " +
                           std::to_string(check.rows()) + " in the target (checksums " +
                           copied.Hex().substr(0, 16) + " and " + check.Hex().substr(0, 16) + ")");
    }
    if (st.ok()) report->push_back({t.name, copied.rows(), copied.Hex()});
  }
  (void)src->Exec("COMMIT");
  if (!st.ok()) {
    (void)dst->Rollback();
    report->clear();
    return st;
  }
  return dst->Commit();
}

}  // namespace grove
