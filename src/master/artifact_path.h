// The checks that keep an artifact inside its build's directory of the artifact store.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace grove {

// Accepts a relative '/'-separated path and returns it normalised (no empty or "." parts).
// Refuses: empty, absolute, a ".." part, a backslash, control characters (NUL included), and
// more than 1024 bytes.
Status CheckArtifactPath(std::string_view path, std::string* normalized);

// The file |rel| (already checked) under |root|, with every directory on the way created and
// none of them, nor the file, a symbolic link (a link planted there could point anywhere).
Status PrepareArtifactFile(const std::string& root, const std::string& rel, std::string* full);

}  // namespace grove
