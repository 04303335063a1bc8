// The cron parser and its time arithmetic (core/cron.h). Input: an expression, a newline, a time
// zone name, a newline, an ISO 8601 time; the rest of the bytes pick the instants asked about.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/cron.h"

using namespace grove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = [&in]() {
    size_t nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    return l;
  };
  std::string_view expr = line(), tz = line(), iso = line();
  if (expr.size() > 256 || tz.size() > 64) return 0;
  CronSchedule schedule;
  if (!CronSchedule::Parse(expr, tz, &schedule).ok()) return 0;
  int64_t t = 1767225600;  // 2026-01-01T00:00:00Z
  if (in.size() >= 4) {
    uint32_t delta = 0;
    std::memcpy(&delta, in.data(), 4);
    t += static_cast<int64_t>(delta) * 60;  // up to 8000 years on
  }
  for (int i = 0; i < 3; ++i) {
    std::optional<int64_t> next = schedule.Next(t);
    if (!next) break;
    if (*next <= t) __builtin_trap();  // Next() must move forward
    (void)FormatIsoInZone(*next, schedule);
    t = *next;
  }
  int64_t parsed = 0;
  (void)ParseIsoInZone(iso, schedule, &parsed);
  return 0;
}
