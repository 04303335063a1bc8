#include "worker/build_dirs.h"

#include <cctype>
#include <filesystem>

#include "worker/path_utf8.h"

namespace grove {

std::string SafeDirName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(keep ? c : '_');
  }
  if (out.empty() || out[0] == '.') out.insert(0, "_");
  return out;
}

std::string BuildDirs::Acquire(const std::string& builder) {
  if (absolute_.empty()) absolute_ = PathUtf8(std::filesystem::absolute(Utf8Path(workdir_)));
  auto [it, added] = bases_.try_emplace(builder);
  if (added) {
    if (bases_.size() > 4096) {  // builders come and go with the config: bounded
      bases_.clear();
      it = bases_.try_emplace(builder).first;
    }
    it->second = PathUtf8(Utf8Path(absolute_) / SafeDirName(builder));
  }
  const std::string& base = it->second;
  std::string dir = base;
  for (int n = 2; busy_.count(dir); ++n) dir = base + "." + std::to_string(n);
  busy_.insert(dir);
  return dir;
}

}  // namespace grove
