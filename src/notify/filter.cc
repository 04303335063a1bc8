#include "notify/filter.h"

#include <fnmatch.h>

#include <algorithm>

namespace grove::notify {

namespace {

bool Has(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool CoversBuilder(const NotifierCommon& common, const std::string& name, const BuilderConfig* bc) {
  if (!common.builders.empty() &&
      std::none_of(common.builders.begin(), common.builders.end(),
                   [&](const std::string& p) { return fnmatch(p.c_str(), name.c_str(), 0) == 0; }))
    return false;
  if (common.tags.empty()) return true;
  if (!bc) return false;
  return std::any_of(common.tags.begin(), common.tags.end(), [&](const std::string& t) {
    return std::find(bc->tags.begin(), bc->tags.end(), t) != bc->tags.end();
  });
}

bool NeedsPrevious(const NotifierCommon& common) {
  return Has(common.mode, "problem") || Has(common.mode, "change");
}

bool WantsResult(const NotifierCommon& common, Result result, std::optional<Result> previous) {
  const auto& m = common.mode;
  if (Has(m, "all")) return true;
  if (Has(m, "failing") && result == Result::kFailure) return true;
  if (Has(m, "passing") && result == Result::kSuccess) return true;
  if (Has(m, "warnings") && result == Result::kWarnings) return true;
  if (Has(m, "exception") && result == Result::kException) return true;
  if (Has(m, "cancelled") && result == Result::kCancelled) return true;
  // A builder's first failure is a problem too: nothing passed before, but nothing failed.
  if (Has(m, "problem") && result == Result::kFailure &&
      (!previous || *previous != Result::kFailure))
    return true;
  if (Has(m, "change") && previous && *previous != result) return true;
  return false;
}

}  // namespace grove::notify
