#include "master/private_files.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "core/log.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

// Clears the group and other bits of |path| (not following a symlink) if any is set.
void Tighten(const fs::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;  // absent: created private by the umask
  if (S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0) return;
  mode_t mode = st.st_mode & 07777;
  mode_t tight = mode & ~static_cast<mode_t>(077);
  if (::chmod(path.c_str(), tight) != 0) {
    std::error_code ec(errno, std::generic_category());
    spdlog::warn("{} is readable by other users and its mode cannot be changed: {}", path.string(),
                 ec.message());
    return;
  }
  spdlog::info("made {} private to its owner (mode {:04o} -> {:04o})", path.string(), mode, tight);
}

// |dir| itself and its direct entries.
void TightenDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return;
  Tighten(dir);
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) Tighten(entry.path());
}

fs::path Resolve(const Config& config, const std::string& path) {
  fs::path p(path);
  return p.is_relative() && !config.base_dir.empty() ? fs::path(config.base_dir) / p : p;
}

}  // namespace

void MakeMasterFilesPrivate(const Config& config) {
  ::umask(077);
  const fs::path state = Resolve(config, "state");
  std::error_code ec;
  fs::create_directories(state, ec);  // 0700 under the umask; the store may live elsewhere
  TightenDir(state);
  TightenDir(Resolve(config, "secrets"));
  Tighten(Resolve(config, config.web.users));
  const std::string sqlite = "sqlite:";
  if (config.store_url.rfind(sqlite, 0) == 0) {
    std::string file = config.store_url.substr(sqlite.size());
    if (!file.empty() && file != ":memory:") {
      fs::path db = Resolve(config, file);
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) Tighten(db.string() + suffix);
    }
  }
}

}  // namespace grove
