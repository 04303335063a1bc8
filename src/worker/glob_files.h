// Glob patterns relative to a directory (POSIX glob(3): *, ?, [...]; no **), for the test step's
// JUnit reports and the upload and publish steps' files.
#pragma once

#include <string>
#include <vector>

#include "core/protocol.h"

namespace grove {

// Absolute paths of the regular files under |dir| matching |pattern| (sorted). An absolute
// pattern is used as is.
std::vector<std::string> GlobFiles(const std::string& dir, const std::string& pattern);

// A step option that may be one string or a list of strings.
std::vector<std::string> StringOrList(const Json& options, const char* key);

}  // namespace grove
