// The result of a step or a build. Numbering and order follow the convention CI users know:
// a bigger value is a worse outcome, so the worst of several results is their maximum.
#pragma once

#include <optional>
#include <string_view>

namespace grove {

enum class Result : int {
  kSuccess = 0,
  kWarnings = 1,
  kFailure = 2,
  kSkipped = 3,
  kException = 4,
  kRetry = 5,
  kCancelled = 6,
};

std::string_view ResultName(Result r);
std::optional<Result> ParseResult(std::string_view name);

// The worse of two results (success < warnings < failure < exception < cancelled); skipped
// never makes a build worse.
Result WorseResult(Result a, Result b);

// Maps a process exit to a step result: 0 → success, any other code → failure, killed by a
// signal → exception (unless the kill was a timeout or a cancel, which the caller decides).
Result ResultFromExitCode(int exit_code);

}  // namespace grove
