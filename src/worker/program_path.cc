#include "worker/program_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace grove {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRemember = std::chrono::seconds(1);
constexpr size_t kMaxRemembered = 256;  // names are few (a worker's consumers, step programs)

struct Remembered {
  std::string path;
  Clock::time_point until;
};

struct Cache {
  std::mutex mu;
  std::string path_env;  // the PATH the entries were found on
  std::unordered_map<std::string, Remembered> entries;
};

Cache& TheCache() {
  static Cache cache;
  return cache;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) == 0;
}

// "" when not found or when PATH names the current directory (empty or relative entry).
std::string Search(const std::string& name, std::string_view path_env) {
  while (true) {
    size_t colon = path_env.find(':');
    std::string_view dir = path_env.substr(0, colon);
    if (dir.empty() || dir[0] != '/') return "";
    std::string candidate(dir);
    if (candidate.back() != '/') candidate += '/';
    candidate += name;
    if (IsExecutableFile(candidate)) return candidate;
    if (colon == std::string_view::npos) return "";
    path_env.remove_prefix(colon + 1);
  }
}

}  // namespace

std::string FindOnPath(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return "";
  const char* env = std::getenv("PATH");
  std::string_view path_env = env ? env : "/bin:/usr/bin";
  Cache& cache = TheCache();
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard lock(cache.mu);
    if (cache.path_env != path_env) {
      cache.entries.clear();
      cache.path_env = path_env;
    }
    auto it = cache.entries.find(name);
    if (it != cache.entries.end() && it->second.until > now) return it->second.path;
  }
  // Searched outside the lock: a slow file system must not hold up other threads' spawns.
  std::string found = Search(name, path_env);
  if (found.empty()) return found;  // not remembered: the spawn searches (and reports) itself
  std::lock_guard lock(cache.mu);
  if (cache.path_env == path_env) {
    if (cache.entries.size() >= kMaxRemembered) cache.entries.clear();
    cache.entries[name] = {found, now + kRemember};
  }
  return found;
}

void ForgetOnPath(const std::string& name) {
  Cache& cache = TheCache();
  std::lock_guard lock(cache.mu);
  cache.entries.erase(name);
}

}  // namespace grove
