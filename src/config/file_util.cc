#include "config/file_util.h"

#include <cerrno>
#include <cstdio>
#include <memory>

namespace grove::config_internal {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

bool ReadWholeFile(const std::string& path, std::string* out, int* error) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rbe"));
  if (!f) {
    *error = errno;
    return false;
  }
  out->clear();
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out->append(buf, n);
  if (std::ferror(f.get())) {
    *error = errno;  // e.g. EISDIR when |path| is a directory
    return false;
  }
  return true;
}

int LoadChunk(lua_State* L, std::string source, const std::string& display_name) {
  // Turning the shebang into a comment keeps every line number in place.
  if (!source.empty() && source[0] == '#') source.insert(0, "--");
  std::string chunk_name = "@" + display_name;
  return luaL_loadbufferx(L, source.data(), source.size(), chunk_name.c_str(), "t");
}

}  // namespace grove::config_internal
