// Where a program named without a '/' lives on the worker's PATH, remembered for a moment.
//
// posix_spawnp (like execvp) finds a program by trying execve in each PATH directory in turn:
// with /usr/bin fifth on PATH, `true` costs four failed execve calls in the child before the one
// that works, on every spawn. Looking the name up once in the parent and spawning the full path
// makes that one execve. The answer is kept for a second, so a program installed or removed
// while the worker runs is seen as soon as that (and a spawn of a remembered path that fails
// falls back to posix_spawnp, which searches again).
#pragma once

#include <string>

namespace grove {

// The full path of |name| (no '/') in the directories of the worker's PATH (unset: /bin:/usr/bin,
// like posix_spawnp): the first regular file the worker may execute. "" when there is none, when
// |name| holds a '/', or when PATH has an empty or relative entry (which means the current
// directory at the time of the spawn: nothing to remember).
std::string FindOnPath(const std::string& name);

// Forgets what FindOnPath remembered about |name| (a spawn of it failed).
void ForgetOnPath(const std::string& name);

}  // namespace grove
