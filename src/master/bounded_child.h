// BoundedChild: starts a program for the master (today: git, for the poller) so that it can
// neither outlive the master without a bound nor hold any of the master's descriptors.
//
// Why each part:
//  * fork + execve, not posix_spawn: posix_spawn cannot set a parent-death signal. Between fork
//    and exec the child makes only async-signal-safe calls (the master has many threads).
//  * Every descriptor above stderr is closed in the child (close_range), whatever its flags, so
//    a descriptor a library opened without O_CLOEXEC (or one the master inherited) cannot leak.
//    A leaked listening socket is what kept a crashed master's port busy until git ended.
//  * The program runs under coreutils' `timeout -k KILL_AFTER LIMIT`, so the time bound lives in
//    the child's own process tree and holds after the master is gone. The child leads a process
//    group of its own; `timeout` signals that whole group (git with its ssh or remote-https
//    helpers), SIGTERM at the limit and SIGKILL KILL_AFTER seconds later.
//  * PR_SET_PDEATHSIG(SIGTERM) on `timeout`: when the master dies, even by SIGKILL, `timeout`
//    forwards SIGTERM to the group at once (git then removes its lock files) and SIGKILLs it
//    KILL_AFTER seconds later. The parent-death signal follows the thread that forked: callers
//    wait for the child on the thread that started it (the poller's thread does).
//  Without `timeout` in PATH the program runs directly, with SIGKILL as its parent-death signal:
//  still bounded by the master's life, but its helpers are then only bounded by their own I/O.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/fd_util.h"
#include "core/status.h"

namespace grove {

struct BoundedCommand {
  std::vector<std::string> argv;  // argv[0]: a program name looked up in PATH, or a path
  std::vector<std::string> env;   // the child's whole environment, NAME=value
  std::string cwd;                // empty: the master's working directory
  int limit_s = 300;              // wall-clock bound, enforced by the child's own tree
};

struct BoundedChild {
  pid_t pid = -1;  // leader of the child's process group: kill(-pid, ...) reaches all of it
  UniqueFd out;    // read end of the child's stdout
  UniqueFd err;    // read end of the child's stderr
  bool bounded_by_timeout = false;  // runs under `timeout` (exit 124 = limit reached)
};

// How long after SIGTERM at the limit (or at the master's death) the group gets SIGKILL.
constexpr int kBoundedKillAfterS = 5;
// The exit code of a child stopped at its limit by `timeout`.
constexpr int kBoundedTimedOutExit = 124;

// Starts |cmd|. Errors (program not found, cannot chdir, no pipe) come back here, not as an
// exit code. The caller reads the pipes and reaps |child->pid|.
Status StartBounded(const BoundedCommand& cmd, BoundedChild* child);

}  // namespace grove
