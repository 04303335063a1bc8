#include "worker/glob_files.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

namespace grove {

std::vector<std::string> GlobFiles(const std::string& dir, const std::string& pattern) {
  namespace fs = std::filesystem;
  std::string full =
      !pattern.empty() && pattern[0] == '/' ? pattern : (fs::path(dir) / pattern).string();
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::error_code ec;
      if (fs::is_regular_file(g.gl_pathv[i], ec)) out.emplace_back(g.gl_pathv[i]);
    }
  }
  globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace grove
