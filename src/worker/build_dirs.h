// BuildDirs: where each running job works. A builder's directory is WORKDIR/BUILDER (the name
// made safe for a file system); when the same builder runs twice at once the second one gets
// BUILDER.2, and so on, so concurrent builds never share a checkout.
#pragma once

#include <map>
#include <set>
#include <string>

namespace grove {

class BuildDirs {
 public:
  explicit BuildDirs(std::string workdir) : workdir_(std::move(workdir)) {}

  // An absolute directory for a new job of |builder|, marked busy until Release.
  std::string Acquire(const std::string& builder);
  void Release(const std::string& dir) { busy_.erase(dir); }

 private:
  std::string workdir_;
  std::string absolute_;  // workdir_ made absolute once: the worker never changes directory
  std::map<std::string, std::string> bases_;  // builder -> its directory (paths are not cheap)
  std::set<std::string> busy_;
};

// Builder names become directory names: letters, digits, '-', '_' and '.' stay, the rest
// becomes '_', and a leading '.' is prefixed so nothing hides or climbs ("..").
std::string SafeDirName(const std::string& name);

}  // namespace grove
