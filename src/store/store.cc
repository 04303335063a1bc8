// OpenStore: from a store URL to an open, migrated Store.
#include "store/store.h"

#include <filesystem>
#include <system_error>

#include "store/migrations.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"

namespace grove {
namespace {

Status OpenSqlite(const std::string& path_text, const std::string& base_dir,
                  std::unique_ptr<Store>* out) {
  namespace fs = std::filesystem;
  if (path_text.empty()) return Status::Invalid("store url 'sqlite:' needs a file path");
  std::string file = path_text;
  if (path_text != ":memory:") {
    fs::path path(path_text);
    if (path.is_relative() && !base_dir.empty()) path = fs::path(base_dir) / path;
    std::error_code ec;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return Status::IoError("cannot create the store's directory " + path.parent_path().string() +
                             ": " + ec.message());
    }
    file = path.string();
  }
  std::unique_ptr<sql::Db> db;
  GROVE_RETURN_IF_ERROR(sql::OpenSqliteDb(file, &db));
  Status st = sql::MigrateStore(db.get());
  if (!st.ok()) {
    return st.IsInvalid() ? Status::Invalid(file + ": " + st.message())
                          : Status::IoError(file + ": " + st.message());
  }
  *out = NewSqlStore(std::move(db));
  return Status::Ok();
}

}  // namespace

Status OpenStore(const std::string& url, const std::string& base_dir, std::unique_ptr<Store>* out) {
  const size_t colon = url.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::Invalid("store url '" + url + "' has no scheme; expected sqlite:PATH");
  }
  // Only the scheme is echoed: the rest of a database url may hold a password.
  const std::string scheme = url.substr(0, colon);
  if (scheme == "sqlite") return OpenSqlite(url.substr(colon + 1), base_dir, out);
  if (scheme == "postgresql" || scheme == "postgres") {
    return Status::Invalid("store url scheme '" + scheme +
                           "' is not supported yet; use sqlite:PATH");
  }
  return Status::Invalid("unknown store url scheme '" + scheme + "'; expected sqlite:PATH");
}

}  // namespace grove
