// The JUnit XML reader (core/junit.h) on any document: Invalid or a summary whose counts add up.
#include <cstdint>
#include <string_view>

#include "core/junit.h"

using namespace grove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TestSummary summary;
  if (!ParseJUnit(std::string_view(reinterpret_cast<const char*>(data), size), &summary).ok())
    return 0;
  if (summary.passed < 0 || summary.failed < 0 || summary.skipped < 0 || summary.errors < 0 ||
      summary.failures.size() > TestSummary::kMaxFailures)
    __builtin_trap();
  for (const TestFailure& f : summary.failures)
    if (f.message.size() > TestSummary::kMaxMessage * 4) __builtin_trap();
  (void)ToJson(summary).dump(-1, ' ', false, Json::error_handler_t::replace);
  return 0;
}
