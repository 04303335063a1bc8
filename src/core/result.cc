#include "core/result.h"

#include <array>

namespace grove {
namespace {
constexpr std::array<std::string_view, 7> kNames = {"success",   "warnings", "failure",  "skipped",
                                                    "exception", "retry",    "cancelled"};

int Severity(Result r) {
  switch (r) {
    case Result::kSkipped:
      return -1;
    case Result::kSuccess:
      return 0;
    case Result::kWarnings:
      return 1;
    case Result::kFailure:
      return 2;
    case Result::kRetry:
      return 3;
    case Result::kException:
      return 4;
    case Result::kCancelled:
      return 5;
  }
  return 4;
}
}  // namespace

std::string_view ResultName(Result r) {
  auto i = static_cast<size_t>(r);
  if (i >= kNames.size()) return "unknown";
  return kNames[i];
}

std::optional<Result> ParseResult(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Result>(i);
  return std::nullopt;
}

Result WorseResult(Result a, Result b) {
  return Severity(a) >= Severity(b) ? a : b;
}

Result ResultFromExitCode(int exit_code) {
  return exit_code == 0 ? Result::kSuccess : Result::kFailure;
}

}  // namespace grove
