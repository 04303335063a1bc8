// Cron schedules: a parsed cron expression bound to an IANA time zone, and the computation of
// its next fire time.
//
// Syntax: five fields (minute hour day-of-month month day-of-week) or six with a leading
// seconds field; lists, ranges and steps (`*/15`, `1-5/2`, `10/5` = 10 to the end every 5);
// month and weekday names (`JAN`, `mon-fri`, case-insensitive); day-of-week 0-7 (0 and 7 are
// Sunday); `?` (= `*` in the day fields); `L`, `L-n`, `nW`, `LW` in day-of-month; `d#n` (n-th
// weekday d, n 1-5) and `dL` (last weekday d) in day-of-week; the macros @yearly @annually
// @monthly @weekly @daily @midnight @hourly. When both day fields are restricted (neither starts
// with `*` or `?`) a day matches if either does (Vixie cron); otherwise both must.
//
// Daylight saving time (cronie's rule, src/cron.c): an entry is a *wildcard* entry when its
// minute or its hour field starts with `*` (`*`, `*/30`, `*,5`; not `0-59`; the seconds field
// does not count; @hourly is one, the other macros are not). A wildcard entry follows real
// time: it fires in both passes of a repeated hour and not at all for times a spring-forward
// gap skips. Any other entry is a *fixed-time* entry naming wall-clock times: it fires once
// when its time occurs twice (at the first occurrence) and, when its time is skipped by a gap,
// at the instant the gap ends (several skipped times collapse into that one fire).
// The time zone database is the system's (/usr/share/zoneinfo), read through Howard Hinnant's
// date library, which this header deliberately does not include.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace grove {

// Immutable; copies share the parsed form.
class CronSchedule {
 public:
  // How far Next() looks before giving up. 28 years is the period of the weekday/leap-year
  // cycle within a century, so even "the fifth Monday of February" is found.
  static constexpr int kHorizonYears = 28;

  // A default-constructed schedule never fires.
  CronSchedule() = default;

  // |tz_name| is an IANA zone such as "Europe/Rome"; "" means UTC. Errors are
  // Status::Invalid with one line naming the field and the offending text.
  static Status Parse(std::string_view expr, std::string_view tz_name, CronSchedule* out);

  // The first fire time strictly after |after_epoch_s| (seconds since the Unix epoch), or
  // nullopt if there is none within kHorizonYears (e.g. "0 0 30 2 *").
  std::optional<int64_t> Next(int64_t after_epoch_s) const;

  const std::string& expr() const;
  const std::string& tz() const;  // "UTC" when parsed with ""

 private:
  friend std::string FormatIsoInZone(int64_t epoch_s, const CronSchedule& schedule);
  friend Status ParseIsoInZone(std::string_view text, const CronSchedule& schedule,
                               int64_t* epoch_s);
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// "2026-03-29T03:00:00+02:00": |epoch_s| as local time in |schedule|'s zone, with its offset.
std::string FormatIsoInZone(int64_t epoch_s, const CronSchedule& schedule);

// Parses "2026-03-29T01:59:00Z", "2026-03-29T01:59:00+01:00" or a local time without a zone
// ("2026-03-29T01:59[:00]", "2026-03-29"), which is read in |schedule|'s zone: a time repeated
// by a DST change means its first occurrence, a skipped one the instant the gap ends (the same
// rule as fixed-time entries). A space may replace the 'T'; fractions of a second are dropped.
Status ParseIsoInZone(std::string_view text, const CronSchedule& schedule, int64_t* epoch_s);

}  // namespace grove
