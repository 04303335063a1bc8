// Checks of relative paths that a step asks the worker to create or enter (a workdir, a
// download's destination), by the rules of the worker's file system. Pure string logic, so the
// Windows rules are tested on Linux too (tests/unit/local_path_test.cc).
#pragma once

#include <string>

#include "core/status.h"

namespace grove {

enum class PathRules { kPosix, kWindows };

// Refuses |rel| unless it is a relative path that stays below its base: no leading separator,
// no ".." part; with kWindows also '\' as a separator, no drive ("C:"), no device or reserved
// name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension), none of < > : " | ? *
// or control characters, and no part ending in a dot or a space (Windows drops those silently).
// |what| names the path in the error ("workdir 'x'").
Status CheckRelativePath(const std::string& rel, PathRules rules, const std::string& what);

}  // namespace grove
