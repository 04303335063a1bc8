// LoadConfig with its limits: the in-process loader that the evaluating child (config_eval.h),
// the unit tests and the fuzzers run. Within one process the limits are best effort (a C
// function such as a catastrophic string.find runs on unchecked); config_eval.h's child process
// is what makes them hold whatever the Lua does.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "config/config.h"

namespace grove::config_internal {

struct LoadOptions {
  // grove.lua runs in milliseconds; a config still running after this has an endless loop, and
  // must not hang `grove checkconfig` or a reload forever.
  std::chrono::milliseconds time_limit{10000};
  // The most bytes the Lua heap may hold (garbage not yet collected included); 0: no limit.
  // A refusal inside a config function unwinds its C++ frames with longjmp (see lua_fn.h), which
  // may leak what they held: fine for the evaluating child, which exits after the load.
  size_t memory_limit = 0;
};

// Both limits, once hit, cannot be caught by pcall, xpcall or coroutine.resume in grove.lua: the
// load fails with the message "grove.lua:LINE: evaluation exceeded the time limit of 10 s" (or
// "... the memory limit of 512 MiB").
Status LoadConfigWithOptions(const std::string& path, const LoadOptions& options, Config* out);

// The phrases that name a limit in error messages: "the time limit of 10 s", "the memory limit
// of 512 MiB", "the CPU limit of 10 s".
std::string DescribeTimeLimit(std::chrono::milliseconds limit);
std::string DescribeMemoryLimit(size_t bytes);
std::string DescribeCpuLimit(std::chrono::seconds limit);

}  // namespace grove::config_internal
