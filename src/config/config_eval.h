// Evaluating grove.lua in a child process, where hard limits hold whatever the Lua does.
//
// grove.lua is a program: an endless loop (even one wrapped in pcall), a catastrophic
// string.find, os.execute("sleep 60") or a memory bomb must not hang or exhaust the master or
// `grove checkconfig`. EvaluateConfig runs the grove binary itself (/proc/self/exe
// __eval-config) in a session of its own, under RLIMIT_AS and RLIMIT_CPU, with a wall-clock
// deadline enforced by the parent, which kills the child's whole process group when it passes
// (and always once the child has ended, so nothing the config started outlives its evaluation).
// The child sends the evaluated Config back as JSON (config_json.h) on a pipe; secrets travel
// only there.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "config/config.h"
#include "core/status.h"

namespace grove {

struct ConfigLimits {
  std::chrono::milliseconds time{10000};  // wall clock
  std::chrono::seconds cpu{10};
  size_t memory = size_t{512} << 20;  // bytes of Lua heap
};

// The default limits, overridden by $GROVE_CONFIG_TIME_LIMIT and $GROVE_CONFIG_CPU_LIMIT
// (durations: "10s", "1m") and $GROVE_CONFIG_MEMORY_LIMIT (MiB). A malformed value is an error.
Status ConfigLimitsFromEnv(ConfigLimits* out);

// Parses the command-line forms of the limits: a duration, or a number of MiB.
Status ParseTimeLimit(const std::string& text, std::chrono::milliseconds* out);
Status ParseCpuLimit(const std::string& text, std::chrono::seconds* out);
Status ParseMemoryLimit(const std::string& text, size_t* out);

struct EvalOptions {
  ConfigLimits limits;
  // When this descriptor becomes readable the evaluation is abandoned (the child killed) and
  // EvaluateConfig returns Unavailable. -1: none.
  int cancel_fd = -1;
  // The grove binary; tests may point elsewhere.
  std::string program = "/proc/self/exe";
};

// Evaluates |path| like LoadConfig, in a child process. Blocks until the child has ended (at most
// about limits.time + 1 s). A config error, or a limit hit, is Invalid with a one-line message:
// "grove.lua:12: ...", "grove.lua: evaluation exceeded the time limit of 10 s" (or the memory or
// CPU limit); a config file that cannot be read is NotFound or IoError, as with LoadConfig.
Status EvaluateConfig(const std::string& path, const EvalOptions& options, Config* out);

// The child's side, `grove __eval-config`: applies the limits to itself, loads |path| and writes
// the result to its standard output, which only the parent reads (Lua's print and os.execute
// output go to standard error instead). Returns the process exit code.
int RunConfigEvaluation(const std::string& path, const ConfigLimits& limits, pid_t parent);

// For command-line tools: SIGINT, SIGTERM and SIGHUP first kill the process group of the
// evaluation in progress (a terminal's Ctrl-C does not reach that other session), then take
// their default action.
void KillConfigEvaluationOnSignals();

}  // namespace grove
