// The cron engine: syntax, day rules, time zones and DST, and a brute-force cross-check.
#include "core/cron.h"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace grove {
namespace {

// "2026-03-29T01:00:00Z" or "...+02:00" as epoch seconds, computed without the engine.
int64_t At(const std::string& iso) {
  int y, mo, d, h, mi, s, oh = 0, om = 0;
  char zone[8] = {};
  EXPECT_GE(std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d%7s", &y, &mo, &d, &h, &mi, &s, zone), 7)
      << iso;
  const std::string z = zone;
  int sign = 0;
  if (z != "Z") {
    sign = z[0] == '-' ? -1 : 1;
    std::sscanf(z.c_str() + 1, "%d:%d", &oh, &om);
  }
  using namespace std::chrono;
  const sys_days day{year{y} / mo / d};
  return day.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + s -
         sign * (oh * 3600 + om * 60);
}

CronSchedule MustParse(const std::string& expr, const std::string& tz = "") {
  CronSchedule s;
  const Status st = CronSchedule::Parse(expr, tz, &s);
  EXPECT_TRUE(st.ok()) << expr << " in '" << tz << "': " << st.message();
  return s;
}

// The next |n| fire times after |from| (any form At() accepts), as local ISO 8601 times.
std::vector<std::string> Fires(const std::string& expr, const std::string& tz,
                               const std::string& from, int n) {
  const CronSchedule s = MustParse(expr, tz);
  std::vector<std::string> out;
  int64_t t = At(from);
  for (int i = 0; i < n; ++i) {
    const std::optional<int64_t> next = s.Next(t);
    if (!next) break;
    EXPECT_GT(*next, t);
    out.push_back(FormatIsoInZone(*next, s));
    t = *next;
  }
  return out;
}

// The same, as UTC instants: the DST tests check exact instants, not only their rendering.
std::vector<int64_t> FireInstants(const std::string& expr, const std::string& tz,
                                  const std::string& from, int n) {
  const CronSchedule s = MustParse(expr, tz);
  std::vector<int64_t> out;
  int64_t t = At(from);
  for (int i = 0; i < n; ++i) {
    const std::optional<int64_t> next = s.Next(t);
    if (!next) break;
    out.push_back(t = *next);
  }
  return out;
}

std::vector<int64_t> Instants(const std::vector<std::string>& isos) {
  std::vector<int64_t> out;
  for (const std::string& iso : isos) out.push_back(At(iso));
  return out;
}

std::string ParseError(const std::string& expr, const std::string& tz = "") {
  CronSchedule s;
  const Status st = CronSchedule::Parse(expr, tz, &s);
  EXPECT_TRUE(st.IsInvalid()) << expr;
  return st.message();
}

using V = std::vector<std::string>;

// ---- Fields ----

TEST(CronTest, StepsRangesAndLists) {
  EXPECT_EQ(Fires("*/15 * * * *", "", "2026-01-01T00:07:00Z", 4),
            (V{"2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00",
               "2026-01-01T00:45:00+00:00", "2026-01-01T01:00:00+00:00"}));
  EXPECT_EQ(Fires("1-5/2 * * * *", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-01T00:01:00+00:00", "2026-01-01T00:03:00+00:00",
               "2026-01-01T00:05:00+00:00", "2026-01-01T01:01:00+00:00"}));
  // "10/5" is "from 10 to the end of the range, every 5".
  EXPECT_EQ(Fires("10/20 * * * *", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-01T00:10:00+00:00", "2026-01-01T00:30:00+00:00",
               "2026-01-01T00:50:00+00:00", "2026-01-01T01:10:00+00:00"}));
  EXPECT_EQ(
      Fires("0 9,12,18 * * *", "", "2026-01-01T10:00:00Z", 3),
      (V{"2026-01-01T12:00:00+00:00", "2026-01-01T18:00:00+00:00", "2026-01-02T09:00:00+00:00"}));
  EXPECT_EQ(
      Fires("5,0-2 22-23/1 * * *", "", "2026-01-01T22:01:30Z", 5),
      (V{"2026-01-01T22:02:00+00:00", "2026-01-01T22:05:00+00:00", "2026-01-01T23:00:00+00:00",
         "2026-01-01T23:01:00+00:00", "2026-01-01T23:02:00+00:00"}));
  EXPECT_EQ(
      Fires("0 0 1 */5 *", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-06-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"}));
}

TEST(CronTest, NextIsStrictlyAfter) {
  const CronSchedule s = MustParse("0 3 * * *");
  EXPECT_EQ(s.Next(At("2026-05-01T03:00:00Z")), At("2026-05-02T03:00:00Z"));
  EXPECT_EQ(s.Next(At("2026-05-01T02:59:59Z")), At("2026-05-01T03:00:00Z"));
}

TEST(CronTest, MonthAndWeekdayNames) {
  EXPECT_EQ(Fires("0 0 1 JAN,jul *", "", "2026-02-01T00:00:00Z", 2),
            (V{"2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"}));
  EXPECT_EQ(Fires("0 0 1 Mar-May *", "", "2026-04-15T00:00:00Z", 2),
            (V{"2026-05-01T00:00:00+00:00", "2027-03-01T00:00:00+00:00"}));
  // 2026-01-02 is a Friday.
  EXPECT_EQ(Fires("0 9 * * mon-fri", "", "2026-01-02T10:00:00Z", 2),
            (V{"2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"}));
  EXPECT_EQ(Fires("0 9 * * Saturday", "", "2026-01-01T00:00:00Z", 1),
            (V{"2026-01-03T09:00:00+00:00"}));
  EXPECT_EQ(Fires("0 0 * DECEMBER SUN", "", "2026-01-01T00:00:00Z", 1),
            (V{"2026-12-06T00:00:00+00:00"}));
}

TEST(CronTest, SundayIsZeroAndSeven) {
  const V sundays{"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"};
  EXPECT_EQ(Fires("0 0 * * 0", "", "2026-01-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(Fires("0 0 * * 7", "", "2026-01-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(Fires("0 0 * * 5-7", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
               "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00"}));
}

TEST(CronTest, BothDayFieldsRestrictedMeansEither) {
  // The 13th, or any Friday (Vixie cron).
  EXPECT_EQ(Fires("0 0 13 * 5", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
               "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"}));
  // A day field starting with '*' or '?' makes it "both": odd days that are Mondays.
  EXPECT_EQ(Fires("0 0 */2 * 1", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-05T00:00:00+00:00", "2026-01-19T00:00:00+00:00",
               "2026-02-09T00:00:00+00:00", "2026-02-23T00:00:00+00:00"}));
  EXPECT_EQ(Fires("0 0 ? * MON", "", "2026-01-01T00:00:00Z", 2),
            (V{"2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00"}));
  EXPECT_EQ(Fires("0 0 13 * ?", "", "2026-01-01T00:00:00Z", 2),
            (V{"2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"}));
}

TEST(CronTest, LastDayOfMonth) {
  EXPECT_EQ(Fires("0 0 L * *", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00",
               "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00"}));
  EXPECT_EQ(Fires("0 0 L 2 *", "", "2027-03-01T00:00:00Z", 2),
            (V{"2028-02-29T00:00:00+00:00", "2029-02-28T00:00:00+00:00"}));
  EXPECT_EQ(
      Fires("0 0 L-3 * *", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-01-28T00:00:00+00:00", "2026-02-25T00:00:00+00:00", "2026-03-28T00:00:00+00:00"}));
  EXPECT_EQ(
      Fires("0 0 1,15,L * *", "", "2026-02-10T00:00:00Z", 3),
      (V{"2026-02-15T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-01T00:00:00+00:00"}));
}

TEST(CronTest, NearestWeekday) {
  // 2026-02-15 and 2026-03-15 are Sundays, 2026-01-15 and 2026-04-15 weekdays.
  EXPECT_EQ(Fires("0 0 15W * *", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-15T00:00:00+00:00", "2026-02-16T00:00:00+00:00",
               "2026-03-16T00:00:00+00:00", "2026-04-15T00:00:00+00:00"}));
  // 2026-08-15 is a Saturday: the Friday before.
  EXPECT_EQ(Fires("0 0 15W 8 *", "", "2026-01-01T00:00:00Z", 1), (V{"2026-08-14T00:00:00+00:00"}));
  // 2026-08-01 is a Saturday: not July 31, but Monday the 3rd.
  EXPECT_EQ(Fires("0 0 1W * *", "", "2026-07-15T00:00:00Z", 1), (V{"2026-08-03T00:00:00+00:00"}));
  // 2026-05-31 is a Sunday: not June 1, but Friday the 29th. June has no 31st.
  EXPECT_EQ(Fires("0 0 31W * *", "", "2026-05-01T00:00:00Z", 2),
            (V{"2026-05-29T00:00:00+00:00", "2026-07-31T00:00:00+00:00"}));
  // The last weekday: January 31 and February 28, 2026 are Saturdays.
  EXPECT_EQ(
      Fires("0 0 LW * *", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00", "2026-03-31T00:00:00+00:00"}));
}

TEST(CronTest, NthAndLastWeekdayOfMonth) {
  EXPECT_EQ(
      Fires("0 0 * * 1#2", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-01-12T00:00:00+00:00", "2026-02-09T00:00:00+00:00", "2026-03-09T00:00:00+00:00"}));
  // Only months with five Fridays.
  EXPECT_EQ(Fires("0 0 * * FRI#5", "", "2026-01-01T00:00:00Z", 4),
            (V{"2026-01-30T00:00:00+00:00", "2026-05-29T00:00:00+00:00",
               "2026-07-31T00:00:00+00:00", "2026-10-30T00:00:00+00:00"}));
  EXPECT_EQ(
      Fires("0 0 ? * 5L", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00", "2026-03-27T00:00:00+00:00"}));
  // First Monday or third Wednesday.
  EXPECT_EQ(
      Fires("0 0 * * 1#1,3#3", "", "2026-01-01T00:00:00Z", 3),
      (V{"2026-01-05T00:00:00+00:00", "2026-01-21T00:00:00+00:00", "2026-02-02T00:00:00+00:00"}));
}

TEST(CronTest, Macros) {
  const std::string from = "2026-05-13T10:20:30Z";  // a Wednesday
  EXPECT_EQ(Fires("@yearly", "", from, 1), (V{"2027-01-01T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@annually", "", from, 1), (V{"2027-01-01T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@monthly", "", from, 1), (V{"2026-06-01T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@weekly", "", from, 1), (V{"2026-05-17T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@daily", "", from, 1), (V{"2026-05-14T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@midnight", "", from, 1), (V{"2026-05-14T00:00:00+00:00"}));
  EXPECT_EQ(Fires("@hourly", "", from, 1), (V{"2026-05-13T11:00:00+00:00"}));
  EXPECT_EQ(Fires(" @DAILY ", "", from, 1), (V{"2026-05-14T00:00:00+00:00"}));
}

TEST(CronTest, SecondsField) {
  EXPECT_EQ(Fires("*/20 * * * * *", "", "2026-01-01T00:00:05Z", 4),
            (V{"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00",
               "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:20+00:00"}));
  EXPECT_EQ(Fires("30 0 12 * * *", "", "2026-01-01T12:00:30Z", 1),
            (V{"2026-01-02T12:00:30+00:00"}));
  EXPECT_EQ(Fires("59 59 23 31 12 *", "", "2026-06-01T00:00:00Z", 1),
            (V{"2026-12-31T23:59:59+00:00"}));
}

TEST(CronTest, YearRollover) {
  EXPECT_EQ(Fires("0 0 1 1 *", "", "2026-12-31T23:59:59Z", 1), (V{"2027-01-01T00:00:00+00:00"}));
  EXPECT_EQ(Fires("59 23 31 12 *", "", "2026-12-31T23:59:00Z", 1),
            (V{"2027-12-31T23:59:00+00:00"}));
  EXPECT_EQ(Fires("* * * * *", "", "2026-12-31T23:59:30Z", 2),
            (V{"2027-01-01T00:00:00+00:00", "2027-01-01T00:01:00+00:00"}));
}

TEST(CronTest, FebruaryTwentyNinth) {
  EXPECT_EQ(Fires("0 0 29 2 *", "", "2026-01-01T00:00:00Z", 2),
            (V{"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}));
  // 2100 is not a leap year: eight years apart.
  EXPECT_EQ(Fires("0 0 29 2 *", "", "2096-03-01T00:00:00Z", 1), (V{"2104-02-29T00:00:00+00:00"}));
}

TEST(CronTest, ImpossibleDatesNeverFire) {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "0 0 L-30 2 *"}) {
    EXPECT_EQ(MustParse(expr).Next(At("2026-01-01T00:00:00Z")), std::nullopt) << expr;
    EXPECT_EQ(MustParse(expr, "Europe/Rome").Next(At("2026-01-01T00:00:00Z")), std::nullopt)
        << expr;
  }
  EXPECT_EQ(CronSchedule().Next(0), std::nullopt);
  // Rare but possible: a fifth Monday in February (2044, when February 1 is a Monday).
  EXPECT_EQ(Fires("0 0 ? 2 MON#5", "", "2026-01-01T00:00:00Z", 1),
            (V{"2044-02-29T00:00:00+00:00"}));
}

TEST(CronTest, Accessors) {
  const CronSchedule s = MustParse("*/5 * * * *", "Europe/Rome");
  EXPECT_EQ(s.expr(), "*/5 * * * *");
  EXPECT_EQ(s.tz(), "Europe/Rome");
  EXPECT_EQ(MustParse("@daily").tz(), "UTC");
  const CronSchedule copy = s;
  EXPECT_EQ(copy.Next(0), s.Next(0));
}

// ---- Parse errors ----

TEST(CronTest, ParseErrors) {
  EXPECT_EQ(ParseError("0 25 * * *"),
            "invalid cron expression '0 25 * * *': hour field '25' out of range 0-23");
  EXPECT_EQ(ParseError("0 2 * *"),
            "invalid cron expression '0 2 * *': wrong number of fields (expected 5 or 6, got 4)");
  EXPECT_EQ(ParseError("0 0 0 1 * * *"),
            "invalid cron expression '0 0 0 1 * * *': wrong number of fields (expected 5 or 6, "
            "got 7)");
  EXPECT_EQ(ParseError(""),
            "invalid cron expression '': wrong number of fields (expected 5 or 6, "
            "got 0)");
  EXPECT_EQ(ParseError("0 2 * * FUNDAY"),
            "invalid cron expression '0 2 * * FUNDAY': day-of-week field 'FUNDAY' is not a "
            "weekday name");
  EXPECT_EQ(ParseError("60 * * * *"),
            "invalid cron expression '60 * * * *': minute field '60' out of range 0-59");
  EXPECT_EQ(ParseError("* * * * * 60"),
            "invalid cron expression '* * * * * 60': day-of-week "
            "field '60' out of range 0-7");
  EXPECT_EQ(ParseError("60 * * * * *"),
            "invalid cron expression '60 * * * * *': second field '60' out of range 0-59");
  EXPECT_EQ(ParseError("0 0 0 * *"),
            "invalid cron expression '0 0 0 * *': day-of-month field '0' out of range 1-31");
  EXPECT_EQ(ParseError("0 0 1 13 *"),
            "invalid cron expression '0 0 1 13 *': month field '13' out of range 1-12");
  EXPECT_EQ(ParseError("0 0 1 FOO *"),
            "invalid cron expression '0 0 1 FOO *': month field 'FOO' is not a month name");
  EXPECT_EQ(ParseError("0 x * * *"),
            "invalid cron expression '0 x * * *': hour field 'x' is not a number");
  EXPECT_EQ(ParseError("0 MON * * *"),
            "invalid cron expression '0 MON * * *': hour field 'MON' is not a number");
  EXPECT_EQ(ParseError("*/0 * * * *"),
            "invalid cron expression '*/0 * * * *': minute field '*/0' has a step of 0");
  EXPECT_EQ(ParseError("*/x * * * *"),
            "invalid cron expression '*/x * * * *': minute field '*/x' has a step that is not a "
            "number");
  EXPECT_EQ(ParseError("0 5-2 * * *"),
            "invalid cron expression '0 5-2 * * *': hour field '5-2' is a backwards range");
  EXPECT_EQ(ParseError("0 1- * * *"),
            "invalid cron expression '0 1- * * *': hour field '1-' is incomplete");
  EXPECT_EQ(ParseError("1,,2 * * * *"),
            "invalid cron expression '1,,2 * * * *': minute field '1,,2' has an empty list "
            "element");
  EXPECT_EQ(ParseError("0 ? * * *"),
            "invalid cron expression '0 ? * * *': hour field '?' is only allowed in "
            "day-of-month and day-of-week");
  EXPECT_EQ(ParseError("0 0 * * MON#6"),
            "invalid cron expression '0 0 * * MON#6': day-of-week field 'MON#6' has an "
            "occurrence outside 1-5");
  EXPECT_EQ(ParseError("0 0 32W * *"),
            "invalid cron expression '0 0 32W * *': day-of-month field '32' out of range 1-31");
  EXPECT_EQ(ParseError("0 0 L-31 * *"),
            "invalid cron expression '0 0 L-31 * *': day-of-month field 'L-31' has an offset "
            "from the last day outside 0-30");
  EXPECT_EQ(ParseError("0 0 * * L"),
            "invalid cron expression '0 0 * * L': day-of-week field 'L' is not a weekday name");
  EXPECT_EQ(ParseError("@reboot"),
            "invalid cron expression '@reboot': unknown macro '@reboot' (expected @yearly, "
            "@annually, @monthly, @weekly, @daily, @midnight or @hourly)");
  EXPECT_EQ(ParseError("0 0 * * *", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'");
  EXPECT_EQ(ParseError("0 0 * * *", "europe/rome"), "unknown time zone 'europe/rome'");
}

// ---- Time zones and DST ----
// 2026 transitions: Europe/Rome 03-29 01:00Z (02:00 CET -> 03:00 CEST) and 10-25 01:00Z
// (03:00 CEST -> 02:00 CET); America/New_York 03-08 07:00Z (02:00 EST -> 03:00 EDT) and
// 11-01 06:00Z (02:00 EDT -> 01:00 EST); Australia/Lord_Howe 04-04 15:00Z (02:00 +11 ->
// 01:30 +10:30) and 10-03 15:30Z (02:00 +10:30 -> 02:30 +11).

TEST(CronDstTest, PlainZoneOffsets) {
  EXPECT_EQ(Fires("0 3 * * *", "Europe/Rome", "2026-01-10T00:00:00Z", 1),
            (V{"2026-01-10T03:00:00+01:00"}));
  EXPECT_EQ(FireInstants("0 3 * * *", "Europe/Rome", "2026-07-10T00:00:00Z", 1),
            Instants({"2026-07-10T01:00:00Z"}));
  EXPECT_EQ(Fires("0 3 * * *", "America/New_York", "2026-01-10T00:00:00Z", 1),
            (V{"2026-01-10T03:00:00-05:00"}));
  EXPECT_EQ(Fires("0 3 * * *", "Asia/Kolkata", "2026-01-10T00:00:00Z", 1),
            (V{"2026-01-11T03:00:00+05:30"}));
}

TEST(CronDstTest, RomeFixedHourInSkippedHourFiresOnceAtGapEnd) {
  EXPECT_EQ(FireInstants("30 2 * * *", "Europe/Rome", "2026-03-28T12:00:00Z", 2),
            Instants({"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Rome", "2026-03-28T12:00:00Z", 2),
            (V{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}));
  // Six skipped slots collapse into one fire.
  EXPECT_EQ(
      Fires("0,10,20,30,40,50 2 * * *", "Europe/Rome", "2026-03-28T12:00:00Z", 3),
      (V{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:10:00+02:00"}));
  // The gap's end also matching on its own is still one fire.
  EXPECT_EQ(
      Fires("0,30 2,3 * * *", "Europe/Rome", "2026-03-29T00:00:00Z", 3),
      (V{"2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:00:00+02:00"}));
  // Asking from the second before the gap, and from the gap's end itself.
  const CronSchedule s = MustParse("30 2 * * *", "Europe/Rome");
  EXPECT_EQ(s.Next(At("2026-03-29T00:59:59Z")), At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(s.Next(At("2026-03-29T01:00:00Z")), At("2026-03-30T00:30:00Z"));
}

TEST(CronDstTest, RomeFixedHourInRepeatedHourFiresOnce) {
  EXPECT_EQ(FireInstants("30 2 * * *", "Europe/Rome", "2026-10-24T12:00:00Z", 2),
            Instants({"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Rome", "2026-10-24T12:00:00Z", 2),
            (V{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}));
  // Asked between the two copies: the second copy is not a new fire.
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Rome", "2026-10-25T00:45:00Z", 1),
            (V{"2026-10-26T02:30:00+01:00"}));
  // Every minute of hour 2, but only in its first copy: a range is not a '*'.
  EXPECT_EQ(Fires("0-59 2 * * *", "Europe/Rome", "2026-10-25T00:58:00Z", 2),
            (V{"2026-10-25T02:59:00+02:00", "2026-10-26T02:00:00+01:00"}));
}

TEST(CronDstTest, RomeWildcardFollowsRealTime) {
  // Autumn: the repeated hour fires twice.
  EXPECT_EQ(FireInstants("*/30 * * * *", "Europe/Rome", "2026-10-25T00:00:00Z", 4),
            Instants({"2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z",
                      "2026-10-25T02:00:00Z"}));
  EXPECT_EQ(
      Fires("*/15 * * * *", "Europe/Rome", "2026-10-25T00:20:00Z", 7),
      (V{"2026-10-25T02:30:00+02:00", "2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00",
         "2026-10-25T02:15:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T02:45:00+01:00",
         "2026-10-25T03:00:00+01:00"}));
  EXPECT_EQ(
      Fires("0 * * * *", "Europe/Rome", "2026-10-24T23:30:00Z", 3),
      (V{"2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}));
  // Spring: the skipped hour has no instants.
  EXPECT_EQ(FireInstants("*/30 * * * *", "Europe/Rome", "2026-03-29T00:00:00Z", 3),
            Instants({"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}));
  EXPECT_EQ(
      Fires("*/30 * * * *", "Europe/Rome", "2026-03-29T00:00:00Z", 3),
      (V{"2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"}));
  // A '*'-hour entry naming only skipped minutes just skips them.
  EXPECT_EQ(Fires("30 */2 * * *", "Europe/Rome", "2026-03-28T23:00:00Z", 2),
            (V{"2026-03-29T00:30:00+01:00", "2026-03-29T04:30:00+02:00"}));
}

TEST(CronDstTest, NewYork) {
  // Spring: 02:30 does not exist on 2026-03-08.
  EXPECT_EQ(FireInstants("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            Instants({"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}));
  EXPECT_EQ(Fires("30 2 * * 0", "America/New_York", "2026-03-01T12:00:00Z", 2),
            (V{"2026-03-08T03:00:00-04:00", "2026-03-15T02:30:00-04:00"}));
  EXPECT_EQ(Fires("*/20 * * * *", "America/New_York", "2026-03-08T06:30:00Z", 2),
            (V{"2026-03-08T01:40:00-05:00", "2026-03-08T03:00:00-04:00"}));
  // Autumn: 01:30 happens twice on 2026-11-01.
  EXPECT_EQ(FireInstants("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            Instants({"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  EXPECT_EQ(Fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            (V{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}));
  EXPECT_EQ(FireInstants("*/20 * * * *", "America/New_York", "2026-11-01T05:00:00Z", 6),
            Instants({"2026-11-01T05:20:00Z", "2026-11-01T05:40:00Z", "2026-11-01T06:00:00Z",
                      "2026-11-01T06:20:00Z", "2026-11-01T06:40:00Z", "2026-11-01T07:00:00Z"}));
  EXPECT_EQ(Fires("*/20 * * * *", "America/New_York", "2026-11-01T05:30:00Z", 4),
            (V{"2026-11-01T01:40:00-04:00", "2026-11-01T01:00:00-05:00",
               "2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00"}));
}

TEST(CronDstTest, LordHoweHalfHourShift) {
  // Spring: 02:00-02:30 is skipped on 2026-10-04.
  EXPECT_EQ(FireInstants("0 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2),
            Instants({"2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z"}));
  EXPECT_EQ(Fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 1),
            (V{"2026-10-04T02:30:00+11:00"}));
  EXPECT_EQ(Fires("45 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 1),
            (V{"2026-10-04T02:45:00+11:00"}));
  EXPECT_EQ(
      Fires("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T15:10:00Z", 3),
      (V{"2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"}));
  // Autumn: 01:30-02:00 happens twice on 2026-04-05.
  EXPECT_EQ(FireInstants("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2),
            Instants({"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}));
  EXPECT_EQ(
      Fires("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:20:00Z", 5),
      (V{"2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30",
         "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30"}));
}

// cronie's two kinds of entries (cron.h): a minute or hour field starting with '*' makes a
// wildcard entry, which follows real time; any other entry names wall-clock times.
TEST(CronDstTest, NewYorkWildcardAndFixedTimeEntries) {
  // Spring, 2026-03-08: 02:00-02:59 does not exist. A wildcard entry does not catch it up...
  EXPECT_EQ(Fires("* 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            (V{"2026-03-09T02:00:00-04:00", "2026-03-09T02:01:00-04:00"}));
  EXPECT_EQ(Fires("*/30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            (V{"2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00"}));
  // ...a fixed-time entry fires once as the gap ends.
  EXPECT_EQ(FireInstants("0,15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            Instants({"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}));
  // Autumn, 2026-11-01: 01:00-01:59 happens twice. A wildcard entry runs in both passes...
  EXPECT_EQ(FireInstants("*/30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 5),
            Instants({"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
                      "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z"}));
  EXPECT_EQ(
      Fires("*/30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 5),
      (V{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
         "2026-11-01T01:30:00-05:00", "2026-11-02T01:00:00-05:00"}));
  EXPECT_EQ(Fires("* 1 * * *", "America/New_York", "2026-11-01T05:58:00Z", 2),
            (V{"2026-11-01T01:59:00-04:00", "2026-11-01T01:00:00-05:00"}));
  // ...a fixed-time entry in the first only.
  EXPECT_EQ(
      Fires("0,30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 3),
      (V{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:00:00-05:00"}));
}

TEST(CronDstTest, BerlinWildcardAndFixedTimeEntries) {
  // Spring, 2026-03-29: 02:00-02:59 does not exist.
  EXPECT_EQ(Fires("* 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            (V{"2026-03-30T02:00:00+02:00", "2026-03-30T02:01:00+02:00"}));
  EXPECT_EQ(Fires("15,45 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            (V{"2026-03-29T03:00:00+02:00", "2026-03-30T02:15:00+02:00"}));
  // The seconds field does not make an entry a wildcard one (cronie has none).
  EXPECT_EQ(Fires("*/20 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            (V{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}));
  // Autumn, 2026-10-25: 02:00-02:59 happens twice.
  EXPECT_EQ(
      Fires("*/30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 5),
      (V{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
         "2026-10-25T02:30:00+01:00", "2026-10-26T02:00:00+01:00"}));
  EXPECT_EQ(
      Fires("0,30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 3),
      (V{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:00:00+01:00"}));
  // A '*' anywhere but first is not a wildcard: cronie looks at the first character.
  EXPECT_EQ(
      Fires("0,*/30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 3),
      (V{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:00:00+01:00"}));
  EXPECT_EQ(Fires("*,0 2 * * *", "Europe/Berlin", "2026-10-25T00:58:00Z", 2),
            (V{"2026-10-25T02:59:00+02:00", "2026-10-25T02:00:00+01:00"}));
}

TEST(CronDstTest, LordHoweWildcardAndFixedTimeEntries) {
  // Spring, 2026-10-04: 02:00-02:29 does not exist (a 30-minute change); 02:30 on does.
  EXPECT_EQ(Fires("*/20 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", 2),
            (V{"2026-10-04T02:40:00+11:00", "2026-10-05T02:00:00+11:00"}));
  EXPECT_EQ(Fires("* 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", 2),
            (V{"2026-10-04T02:30:00+11:00", "2026-10-04T02:31:00+11:00"}));
  EXPECT_EQ(
      Fires("0,20,40 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", 3),
      (V{"2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00", "2026-10-05T02:00:00+11:00"}));
  // Autumn, 2026-04-05: 01:30-01:59 happens twice.
  EXPECT_EQ(
      Fires("*/15 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", 7),
      (V{"2026-04-05T01:00:00+11:00", "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00",
         "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
         "2026-04-06T01:00:00+10:30"}));
  EXPECT_EQ(
      Fires("0,15,30,45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", 5),
      (V{"2026-04-05T01:00:00+11:00", "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00",
         "2026-04-05T01:45:00+11:00", "2026-04-06T01:00:00+10:30"}));
}

TEST(CronDstTest, AfterTheLastListedTransition) {
  // The zoneinfo files list transitions up to 2037; later ones come from the file's POSIX rule.
  EXPECT_EQ(Fires("0 12 1 7 *", "Europe/Rome", "2040-01-01T00:00:00Z", 1),
            (V{"2040-07-01T12:00:00+02:00"}));
  EXPECT_EQ(Fires("30 2 * * *", "Europe/Rome", "2040-03-24T12:00:00Z", 2),
            (V{"2040-03-25T03:00:00+02:00", "2040-03-26T02:30:00+02:00"}));
  EXPECT_EQ(
      Fires("0 * * * *", "America/New_York", "2045-11-05T04:30:00Z", 3),
      (V{"2045-11-05T01:00:00-04:00", "2045-11-05T01:00:00-05:00", "2045-11-05T02:00:00-05:00"}));
  EXPECT_EQ(Fires("0 2 * * *", "Australia/Lord_Howe", "2045-09-30T00:00:00Z", 1),
            (V{"2045-10-01T02:30:00+11:00"}));
}

// ---- Time formatting and parsing ----

TEST(CronTimeTest, FormatAndParseIso) {
  const CronSchedule rome = MustParse("* * * * *", "Europe/Rome");
  const CronSchedule utc = MustParse("* * * * *");
  EXPECT_EQ(FormatIsoInZone(At("2026-03-29T01:00:00Z"), rome), "2026-03-29T03:00:00+02:00");
  EXPECT_EQ(FormatIsoInZone(At("2026-03-29T01:00:00Z"), utc), "2026-03-29T01:00:00+00:00");
  EXPECT_EQ(FormatIsoInZone(-1, utc), "1969-12-31T23:59:59+00:00");
  EXPECT_EQ(FormatIsoInZone(0, MustParse("* * * * *", "America/St_Johns")),
            "1969-12-31T20:30:00-03:30");

  auto parse = [](const std::string& text, const CronSchedule& s) {
    int64_t t = 0;
    const Status st = ParseIsoInZone(text, s, &t);
    EXPECT_TRUE(st.ok()) << text << ": " << st.message();
    return t;
  };
  EXPECT_EQ(parse("2026-03-29T01:59:00Z", rome), At("2026-03-29T01:59:00Z"));
  EXPECT_EQ(parse("2026-03-29T02:59:00+01:00", rome), At("2026-03-29T01:59:00Z"));
  EXPECT_EQ(parse("2026-03-29T02:59:00+0100", utc), At("2026-03-29T01:59:00Z"));
  EXPECT_EQ(parse("2026-03-29T02:59:00-03:30", utc), At("2026-03-29T06:29:00Z"));
  EXPECT_EQ(parse("2026-03-29T01:59:00.250Z", utc), At("2026-03-29T01:59:00Z"));
  EXPECT_EQ(parse("2026-03-29 01:59", utc), At("2026-03-29T01:59:00Z"));
  EXPECT_EQ(parse("2026-03-29", rome), At("2026-03-29T00:00:00+01:00"));
  EXPECT_EQ(parse("2026-07-01T12:00:00", rome), At("2026-07-01T10:00:00Z"));
  // A skipped local time is the gap's end; a repeated one its first occurrence.
  EXPECT_EQ(parse("2026-03-29T02:30:00", rome), At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(parse("2026-10-25T02:30:00", rome), At("2026-10-25T00:30:00Z"));

  for (const char* bad :
       {"", "2026", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00Q",
        "2026-01-01T00:00:00+1", "yesterday", "2026-01-01T00"}) {
    int64_t t = 0;
    const Status st = ParseIsoInZone(bad, utc, &t);
    EXPECT_TRUE(st.IsInvalid()) << bad;
    EXPECT_NE(st.message().find("invalid time '"), std::string::npos) << st.message();
  }
}

// ---- Cross-check against brute force ----
// Random expressions in several zones, around DST changes and elsewhere: every minute of a
// four-day window is tested against the rules stated in cron.h, using the date library's
// own view of local time, and the fire times must be exactly the engine's.

struct RandomEntry {
  std::string expr;
  std::set<unsigned> minutes, hours, months, dows;  // plain values
  std::set<unsigned> doms;
  bool last_day = false;                         // "L" in day-of-month
  std::set<unsigned> nearest;                    // "nW"
  std::set<std::pair<unsigned, unsigned>> nths;  // "d#n"
  bool dom_star = true, dow_star = true, minute_star = true, hour_star = true;
};

std::string RandomList(std::mt19937& rng, unsigned lo, unsigned hi, std::set<unsigned>* out) {
  std::string text;
  const int items = 1 + rng() % 3;
  for (int i = 0; i < items; ++i) {
    if (!text.empty()) text += ',';
    const unsigned a = lo + rng() % (hi - lo + 1);
    switch (rng() % 3) {
      case 0:
        text += std::to_string(a);
        out->insert(a);
        break;
      case 1: {
        const unsigned b = a + rng() % (hi - a + 1);
        text += std::to_string(a) + "-" + std::to_string(b);
        for (unsigned v = a; v <= b; ++v) out->insert(v);
        break;
      }
      default: {
        const unsigned step = 1 + rng() % 7;
        text += std::to_string(a) + "/" + std::to_string(step);
        for (unsigned v = a; v <= hi; v += step) out->insert(v);
      }
    }
  }
  return text;
}

RandomEntry MakeRandomEntry(std::mt19937& rng) {
  RandomEntry e;
  auto all = [](unsigned lo, unsigned hi, std::set<unsigned>* out) {
    for (unsigned v = lo; v <= hi; ++v) out->insert(v);
  };
  std::string minute = "*", hour = "*", dom = "*", month = "*", dow = "*";
  switch (rng() % 8) {
    case 0:
    case 1:
      all(0, 59, &e.minutes);
      break;
    case 2: {
      const unsigned step = 1 + rng() % 20;
      minute = "*/" + std::to_string(step);
      for (unsigned v = 0; v <= 59; v += step) e.minutes.insert(v);
      break;
    }
    default:
      minute = RandomList(rng, 0, 59, &e.minutes), e.minute_star = false;
  }
  if (rng() % 2 == 0) {
    hour = RandomList(rng, 0, 23, &e.hours);
    e.hour_star = false;
    if (rng() % 2 == 0) {  // an hour that DST changes skip or repeat in the zones below
      const unsigned h = 1 + rng() % 2;
      hour += "," + std::to_string(h);
      e.hours.insert(h);
    }
  } else if (rng() % 2 == 0) {
    const unsigned step = 1 + rng() % 3;
    hour = "*/" + std::to_string(step);
    for (unsigned v = 0; v <= 23; v += step) e.hours.insert(v);
  } else {
    all(0, 23, &e.hours);
  }
  switch (rng() % 5) {
    case 0:
      dom = RandomList(rng, 1, 31, &e.doms), e.dom_star = false;
      break;
    case 1:
      dom = "L", e.last_day = true, e.dom_star = false;
      break;
    case 2: {
      const unsigned n = 1 + rng() % 31;
      dom = std::to_string(n) + "W", e.nearest.insert(n), e.dom_star = false;
      break;
    }
    default:
      all(1, 31, &e.doms);
  }
  switch (rng() % 4) {
    case 0:
      dow = RandomList(rng, 0, 6, &e.dows), e.dow_star = false;
      break;
    case 1: {
      const unsigned d = rng() % 7, n = 1 + rng() % 5;
      dow = std::to_string(d) + "#" + std::to_string(n), e.nths.insert({d, n});
      e.dow_star = false;
      break;
    }
    default:
      all(0, 6, &e.dows);
  }
  if (rng() % 8 == 0)
    month = RandomList(rng, 1, 12, &e.months);
  else
    all(1, 12, &e.months);
  e.expr = minute + " " + hour + " " + dom + " " + month + " " + dow;
  return e;
}

bool MatchesLocal(const RandomEntry& e, date::local_seconds local) {
  using namespace date;
  const local_days day = floor<days>(local);
  const year_month_day ymd{day};
  const hh_mm_ss<std::chrono::seconds> tod{local - day};
  if (!e.minutes.count(tod.minutes().count()) || !e.hours.count(tod.hours().count()) ||
      !e.months.count(static_cast<unsigned>(ymd.month()))) {
    return false;
  }
  const unsigned d = static_cast<unsigned>(ymd.day());
  const unsigned wd = weekday{day}.c_encoding();
  const unsigned last = static_cast<unsigned>((ymd.year() / ymd.month() / date::last).day());
  bool dom = e.doms.count(d) || (e.last_day && d == last);
  for (unsigned n : e.nearest) {
    if (n > last) continue;
    const unsigned nwd = weekday{local_days{ymd.year() / ymd.month() / n}}.c_encoding();
    unsigned target = n;
    if (nwd == 6) target = n == 1 ? 3 : n - 1;
    if (nwd == 0) target = n == last ? n - 2 : n + 1;
    dom = dom || d == target;
  }
  bool dow = e.dows.count(wd) > 0;
  for (auto [w, n] : e.nths) dow = dow || (w == wd && (d - 1) / 7 + 1 == n);
  return (e.dom_star || e.dow_star) ? (dom && dow) : (dom || dow);
}

// |wildcard|: whether |e| follows cron.h's rule for wildcard entries or for fixed-time ones.
bool FiresAt(const RandomEntry& e, bool wildcard, const date::time_zone* zone, int64_t t) {
  using namespace date;
  const sys_seconds st{std::chrono::seconds{t}};
  const sys_info info = zone->get_info(st);
  const local_seconds local{st.time_since_epoch() + info.offset};
  if (MatchesLocal(e, local)) {
    if (wildcard) return true;
    // A fixed-time entry fires only at the first occurrence of a repeated local time.
    const local_info li = zone->get_info(local);
    return !(li.result == local_info::ambiguous && info.offset == li.second.offset &&
             info.begin == li.second.begin);
  }
  if (wildcard || st != info.begin) return false;
  // A fixed-time entry whose local time was skipped fires when the gap ends.
  const sys_info prev = zone->get_info(st - std::chrono::seconds{1});
  for (auto l = local_seconds{st.time_since_epoch() + prev.offset}; l < local;
       l += std::chrono::minutes{1}) {
    if (MatchesLocal(e, l)) return true;
  }
  return false;
}

TEST(CronBruteForceTest, RandomEntriesMatchTheRules) {
  std::mt19937 rng(20260329);
  const std::vector<std::pair<std::string, std::vector<std::string>>> zones = {
      {"UTC", {"2026-02-26T00:00:00Z", "2028-02-27T00:00:00Z"}},
      {"Europe/Rome", {"2026-03-27T12:00:00Z", "2026-10-23T12:00:00Z"}},
      {"America/New_York", {"2026-03-06T12:00:00Z", "2026-10-30T12:00:00Z"}},
      {"Europe/Berlin", {"2026-03-27T12:00:00Z", "2026-10-23T12:00:00Z"}},
      {"Australia/Lord_Howe", {"2026-04-02T12:00:00Z", "2026-10-01T12:00:00Z"}},
  };
  constexpr int64_t kWindow = 4 * 86400;
  // Entries whose fire times the other kind's DST rule would change: the rules are exercised.
  int compared = 0, fires = 0, dst_sensitive = 0;
  for (int round = 0; round < 60; ++round) {
    for (const auto& [tz, starts] : zones) {
      const date::time_zone* zone = date::locate_zone(tz);
      const RandomEntry e = MakeRandomEntry(rng);
      const CronSchedule s = MustParse(e.expr, tz);
      const int64_t start = At(starts[rng() % starts.size()]) + 60 * (rng() % 1440);
      const bool wildcard = e.minute_star || e.hour_star;
      std::vector<int64_t> expected, actual, other;
      for (int64_t t = start + 60; t <= start + kWindow; t += 60) {
        if (FiresAt(e, wildcard, zone, t)) expected.push_back(t);
        if (FiresAt(e, !wildcard, zone, t)) other.push_back(t);
      }
      dst_sensitive += other != expected;
      for (std::optional<int64_t> t = s.Next(start); t && *t <= start + kWindow; t = s.Next(*t)) {
        actual.push_back(*t);
      }
      ASSERT_EQ(actual, expected) << "'" << e.expr << "' in " << tz << " after "
                                  << FormatIsoInZone(start, s);
      ++compared;
      fires += static_cast<int>(actual.size());
    }
  }
  EXPECT_EQ(compared, 300);
  EXPECT_GT(fires, 1000);
  EXPECT_GT(dst_sensitive, 20);
}

}  // namespace
}  // namespace grove
