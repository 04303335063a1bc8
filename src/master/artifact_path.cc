#include "master/artifact_path.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace grove {

Status CheckArtifactPath(std::string_view path, std::string* normalized) {
  if (path.empty()) return Status::Invalid("empty artifact path");
  if (path.size() > 1024) return Status::Invalid("artifact path longer than 1024 bytes");
  if (path[0] == '/')
    return Status::Invalid("artifact path must be relative: " + std::string(path));
  std::string out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return Status::Invalid("artifact path must not contain '..': " + std::string(path));
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\')
        return Status::Invalid("artifact path has a control character or a backslash");
    }
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.empty()) return Status::Invalid("artifact path names no file: " + std::string(path));
  *normalized = std::move(out);
  return Status::Ok();
}

Status PrepareArtifactFile(const std::string& root, const std::string& rel, std::string* full) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IoError("cannot create " + root + ": " + ec.message());
  std::string current = root;
  size_t pos = 0;
  while (true) {
    size_t slash = rel.find('/', pos);
    std::string part =
        rel.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    current += "/" + part;
    struct stat st;
    bool last = slash == std::string::npos;
    if (::lstat(current.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        return Status::Invalid("artifact path goes through a symbolic link: " + rel);
      if (!last && !S_ISDIR(st.st_mode))
        return Status::Conflict("artifact path goes through a file: " + rel);
      if (last && S_ISDIR(st.st_mode))
        return Status::Conflict("artifact path is a directory: " + rel);
    } else if (errno != ENOENT) {
      return Status::IoError("cannot inspect " + current + ": " + std::strerror(errno));
    } else if (!last && ::mkdir(current.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create " + current + ": " + std::strerror(errno));
    }
    if (last) break;
    pos = slash + 1;
  }
  *full = current;
  return Status::Ok();
}

}  // namespace grove
