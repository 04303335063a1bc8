#include "core/cron.h"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <vector>

namespace grove {

namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Instants are kept within years 0-9999 so that no arithmetic below can overflow.
constexpr int64_t kMinEpoch = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxEpoch = 253402300799;  // 9999-12-31T23:59:59Z
constexpr int64_t kHorizonSeconds = int64_t{CronSchedule::kHorizonYears} * 366 * kSecondsPerDay;
// No UTC offset ever changed by this much at once; beyond it a period's start is irrelevant.
constexpr int64_t kMaxOffsetChange = 2 * kSecondsPerDay;

// ---- Calendar arithmetic (Howard Hinnant's public-domain algorithms) ----

struct Civil {
  int64_t y;
  unsigned m;  // 1-12
  unsigned d;  // 1-31
};

constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

constexpr Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

constexpr unsigned WeekdayFromDays(int64_t z) {  // 0 = Sunday; 1970-01-01 was a Thursday
  return static_cast<unsigned>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

constexpr bool IsLeap(int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned DaysInMonth(int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

// The parsed fields. Every field is a bit set indexed by the field's value, so matching is a
// shift and a mask, and "the next matching value" is a count of trailing zeros.
struct Fields {
  uint64_t seconds = 0;  // bits 0-59
  uint64_t minutes = 0;  // bits 0-59
  uint32_t hours = 0;    // bits 0-23
  uint32_t months = 0;   // bits 1-12
  uint64_t dom = 0;      // bits 1-31: plain days of the month
  uint32_t dow = 0;      // bits 0-6: plain weekdays, 0 = Sunday

  // Day-of-month forms that depend on the month: bit k of |last_day| is "L-k" ("L" is k = 0),
  // bit n of |nearest_weekday| is "nW", |last_weekday| is "LW".
  uint32_t last_day = 0;
  uint64_t nearest_weekday = 0;
  bool last_weekday = false;
  // Day-of-week forms: bit 8*w+n of |nth_weekday| is "w#n", bit w of |last_of_weekday| is "wL".
  uint64_t nth_weekday = 0;
  uint32_t last_of_weekday = 0;

  // Vixie cron: if either day field starts with '*' (or '?') a day must match both; if both are
  // restricted, matching either is enough.
  bool days_and = true;
  // Neither the minute nor the hour field starts with '*': the entry names wall-clock times
  // and is a fixed-time entry for the DST rules (see cron.h).
  bool fixed_time = false;
};

// A span of time with one UTC offset: [begin, end).
struct Period {
  int64_t begin;
  int64_t end;
  int64_t offset;
};

// ---- POSIX TZ rules (the footer of TZif files, RFC 8536 section 3.3) ----

// "M3.5.0/3" (month.week.weekday), "J60" (day 1-365, never counting February 29) or "59"
// (day 0-365), with the local time of the change in seconds.
struct RuleDate {
  char kind = 'M';  // 'M', 'J' or 'N'
  int month = 0, week = 0, weekday = 0, day = 0;
  int64_t time = 2 * 3600;
};

// Offsets are seconds east of UTC (POSIX writes them west, with the opposite sign).
struct TzRule {
  int64_t std_offset = 0;
  int64_t dst_offset = 0;
  RuleDate start, end;  // the change to DST (in standard time) and back (in DST)
};

class RuleScanner {
 public:
  explicit RuleScanner(std::string_view text) : text_(text) {}
  bool Done() const { return pos_ == text_.size(); }
  bool Take(char ch) {
    if (pos_ >= text_.size() || text_[pos_] != ch) return false;
    ++pos_;
    return true;
  }
  bool Name() {  // "CET" or "<+1030>"
    if (Take('<')) {
      const size_t close = text_.find('>', pos_);
      if (close == std::string_view::npos) return false;
      pos_ = close + 1;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ - start >= 3;
  }
  bool Number(int* out) {
    const size_t start = pos_;
    int v = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) &&
           pos_ - start < 3) {
      v = v * 10 + (text_[pos_++] - '0');
    }
    *out = v;
    return pos_ > start;
  }
  bool Time(int64_t* out) {  // [+-]hh[:mm[:ss]]
    int sign = 1;
    if (Take('-'))
      sign = -1;
    else
      Take('+');
    int h = 0, m = 0, sec = 0;
    if (!Number(&h)) return false;
    if (Take(':') && (!Number(&m) || (Take(':') && !Number(&sec)))) return false;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
  bool Date(RuleDate* out) {
    if (Take('M')) {
      out->kind = 'M';
      if (!Number(&out->month) || !Take('.') || !Number(&out->week) || !Take('.') ||
          !Number(&out->weekday) || out->month < 1 || out->month > 12 || out->week < 1 ||
          out->week > 5 || out->weekday > 6) {
        return false;
      }
    } else {
      out->kind = Take('J') ? 'J' : 'N';
      if (!Number(&out->day) || out->day > 365 || (out->kind == 'J' && out->day < 1)) return false;
    }
    return !Take('/') || Time(&out->time);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Parses "CET-1CEST,M3.5.0,M10.5.0/3"; nullopt for rules without DST changes, whose offset
// never changes.
std::optional<TzRule> ParseTzRule(std::string_view text) {
  RuleScanner in(text);
  TzRule r;
  int64_t west = 0;
  if (!in.Name() || !in.Time(&west) || in.Done() || !in.Name()) return std::nullopt;
  r.std_offset = -west;
  r.dst_offset = r.std_offset + 3600;
  if (!in.Take(',')) {
    if (!in.Time(&west) || !in.Take(',')) return std::nullopt;
    r.dst_offset = -west;
  }
  if (!in.Date(&r.start) || !in.Take(',') || !in.Date(&r.end) || !in.Done()) return std::nullopt;
  return r;
}

// The local midnight (seconds since the local epoch) of the day |d| names in year |y|.
int64_t RuleDay(const RuleDate& d, int64_t y) {
  const int64_t jan1 = DaysFromCivil(y, 1, 1);
  int64_t day;
  if (d.kind == 'J') {
    day = jan1 + d.day - 1 + (IsLeap(y) && d.day >= 60);
  } else if (d.kind == 'N') {
    day = jan1 + d.day;
  } else {
    const int64_t first = DaysFromCivil(y, d.month, 1);
    int64_t dom = 1 + (d.weekday + 7 - WeekdayFromDays(first)) % 7 + 7 * (d.week - 1);
    while (dom > DaysInMonth(y, d.month)) dom -= 7;  // week 5 means "the last"
    day = first + dom - 1;
  }
  return day * kSecondsPerDay;
}

// The period of |rule| that contains |t|: the changes of the years around |t|, in order.
Period RulePeriodAt(const TzRule& rule, int64_t t) {
  const int64_t y = CivilFromDays(FloorDiv(t, kSecondsPerDay)).y;
  std::array<std::pair<int64_t, int64_t>, 6> changes;  // (instant, offset from then on)
  for (int i = 0; i < 3; ++i) {
    changes[2 * i] = {RuleDay(rule.start, y - 1 + i) + rule.start.time - rule.std_offset,
                      rule.dst_offset};
    changes[2 * i + 1] = {RuleDay(rule.end, y - 1 + i) + rule.end.time - rule.dst_offset,
                          rule.std_offset};
  }
  std::sort(changes.begin(), changes.end());
  Period p{kMinEpoch - kMaxOffsetChange, kMaxEpoch + kMaxOffsetChange, rule.std_offset};
  for (const auto& [at, offset] : changes) {
    if (at > t) {
      p.end = at;
      break;
    }
    p.begin = at, p.offset = offset;
  }
  return p;
}

// A time zone: the system tzdb's transitions, continued after the last one by the POSIX TZ
// rule in the TZif file's footer. The date library reads only the transitions, and Debian's
// files list them up to 2037 (and "slim" files, as other systems ship, far fewer), so without
// the rule every later summer would be winter.
class Zone {
 public:
  Zone() = default;  // UTC

  bool utc() const { return tzdb_ == nullptr; }

  // An IANA zone name; false if unknown.
  bool Locate(const std::string& name) {
    if (name == "UTC" || name == "Etc/UTC") return true;
    try {
      tzdb_ = date::locate_zone(name);
    } catch (const std::exception&) {
      return false;
    }
    future_ = LoadFooterRule(name);
    return true;
  }

  Period At(int64_t t) const {
    if (!tzdb_) return {kMinEpoch - kMaxOffsetChange, kMaxEpoch + kMaxOffsetChange, 0};
    const date::sys_info info = tzdb_->get_info(ToSys(t));
    Period p{Clamp(info.begin), Clamp(info.end), info.offset.count()};
    if (future_ && p.end > kMaxEpoch) {  // after the last listed transition
      const Period r = RulePeriodAt(*future_, t);
      p = {std::max(p.begin, r.begin), r.end, r.offset};
    }
    return p;
  }

  int64_t OffsetAt(int64_t t) const { return tzdb_ ? At(t).offset : 0; }

  // The instant of wall-clock time |local|: if it occurs twice, the first; if it is skipped,
  // the end of the gap.
  int64_t FromLocal(int64_t local) const {
    const int64_t before = OffsetAt(local - kMaxOffsetChange);
    const int64_t after = OffsetAt(local + kMaxOffsetChange);
    const int64_t first = local - std::max(before, after), second = local - std::min(before, after);
    if (OffsetAt(first) + first == local) return first;
    if (OffsetAt(second) + second == local) return second;
    return At(local - before).begin;  // in a gap, which |before| (< |after|) runs into
  }

 private:
  static date::sys_seconds ToSys(int64_t t) { return date::sys_seconds{std::chrono::seconds{t}}; }

  // The first and last periods are bounded by far-away sentinels; keep them in range.
  static int64_t Clamp(date::sys_seconds t) {
    return std::clamp<int64_t>(t.time_since_epoch().count(), kMinEpoch - kMaxOffsetChange,
                               kMaxEpoch + kMaxOffsetChange);
  }

  // The footer of a TZif (version 2+) file is its last line: "\nCET-1CEST,M3.5.0,M10.5.0/3\n".
  // Only rules with DST matter: a fixed offset is already the last period's.
  static std::optional<TzRule> LoadFooterRule(const std::string& name) {
    std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < 8 || data.compare(0, 4, "TZif") != 0 || data[4] < '2' ||
        data.back() != '\n') {
      return std::nullopt;
    }
    const size_t start = data.rfind('\n', data.size() - 2);
    if (start == std::string::npos) return std::nullopt;
    return ParseTzRule(std::string_view(data).substr(start + 1, data.size() - start - 2));
  }

  const date::time_zone* tzdb_ = nullptr;  // nullptr: UTC
  std::optional<TzRule> future_;
};

}  // namespace

struct CronSchedule::Impl {
  std::string expr;
  std::string tz;
  Zone zone;
  Fields fields;
};

namespace {

// ---- Bit sets ----

// The lowest set bit of |mask| at or above |from|, or -1.
inline int NextBit(uint64_t mask, unsigned from) {
  if (from >= 64) return -1;
  mask &= ~uint64_t{0} << from;
  return mask ? std::countr_zero(mask) : -1;
}

template <typename F>
void ForEachBit(uint64_t mask, F&& f) {
  for (; mask != 0; mask &= mask - 1) f(static_cast<unsigned>(std::countr_zero(mask)));
}

// ---- Matching in local (wall-clock) time ----

// Quartz's "nW": the weekday nearest to day |n|, never leaving the month.
unsigned NearestWeekday(unsigned n, unsigned days_in_month, unsigned first_weekday) {
  const unsigned wd = (first_weekday + n - 1) % 7;
  if (wd == 6) return n == 1 ? 3 : n - 1;                  // Saturday
  if (wd == 0) return n == days_in_month ? n - 2 : n + 1;  // Sunday
  return n;
}

// The days (bits 1-31) of month |m| of year |y| on which the entry fires.
uint64_t DayMask(const Fields& s, int64_t y, unsigned m) {
  const unsigned dim = DaysInMonth(y, m);
  const uint64_t valid = ((uint64_t{1} << (dim + 1)) - 1) & ~uint64_t{1};
  const unsigned first_wd = WeekdayFromDays(DaysFromCivil(y, m, 1));

  uint64_t dom = s.dom;
  ForEachBit(s.last_day, [&](unsigned k) {
    if (k < dim) dom |= uint64_t{1} << (dim - k);
  });
  ForEachBit(s.nearest_weekday, [&](unsigned n) {
    if (n <= dim) dom |= uint64_t{1} << NearestWeekday(n, dim, first_wd);
  });
  if (s.last_weekday) dom |= uint64_t{1} << NearestWeekday(dim, dim, first_wd);

  // Bit k of |r| is set when the weekday of day k+1 is selected; days 1-7 repeat every week.
  const uint64_t r = ((s.dow >> first_wd) | (s.dow << (7 - first_wd))) & 0x7f;
  uint64_t dow = (r | r << 7 | r << 14 | r << 21 | r << 28) << 1;
  ForEachBit(s.nth_weekday, [&](unsigned bit) {
    const unsigned w = bit / 8, n = bit % 8;
    const unsigned day = 1 + (w + 7 - first_wd) % 7 + 7 * (n - 1);
    if (day <= dim) dow |= uint64_t{1} << day;
  });
  const unsigned last_wd = (first_wd + dim - 1) % 7;
  ForEachBit(s.last_of_weekday,
             [&](unsigned w) { dow |= uint64_t{1} << (dim - (last_wd + 7 - w) % 7); });

  return (s.days_and ? (dom & dow) : (dom | dow)) & valid;
}

// The first matching second of the day at or after |tod| (seconds since midnight), or -1.
int NextTimeOfDay(const Fields& s, int tod) {
  unsigned h = tod / 3600, mi = tod / 60 % 60, sec = tod % 60;
  for (;;) {
    const int nh = NextBit(s.hours, h);
    if (nh < 0) return -1;
    if (static_cast<unsigned>(nh) != h) h = nh, mi = 0, sec = 0;
    const int nmi = NextBit(s.minutes, mi);
    if (nmi < 0) {
      ++h, mi = 0, sec = 0;
      continue;
    }
    if (static_cast<unsigned>(nmi) != mi) mi = nmi, sec = 0;
    const int ns = NextBit(s.seconds, sec);
    if (ns < 0) {
      ++mi, sec = 0;  // minute 60 finds no bit above, which moves to the next hour
      continue;
    }
    return static_cast<int>(h * 3600 + mi * 60 + ns);
  }
}

// The first matching local time in [from, until), counting local time as seconds since
// 1970-01-01T00:00:00 on the wall clock. Jumps month → day → time of day; never steps minutes.
std::optional<int64_t> NextLocal(const Fields& s, int64_t from, int64_t until) {
  if (from >= until) return std::nullopt;
  const int64_t first_day = FloorDiv(from, kSecondsPerDay);
  const Civil c = CivilFromDays(first_day);
  int64_t y = c.y;
  unsigned m = c.m, d = c.d;
  int tod = static_cast<int>(from - first_day * kSecondsPerDay);
  int64_t mask_key = -1;  // (y, m) of |mask|: it is reused while days are skipped
  uint64_t mask = 0;
  for (;;) {
    if (!(s.months >> m & 1)) {
      const int nm = NextBit(s.months, m);
      if (nm < 0)
        ++y, m = std::countr_zero(s.months);
      else
        m = nm;
      d = 1, tod = 0;
      if (DaysFromCivil(y, m, 1) * kSecondsPerDay >= until) return std::nullopt;
    }
    if (mask_key != y * 16 + m) mask_key = y * 16 + m, mask = DayMask(s, y, m);
    const uint64_t days = d < 64 ? mask & (~uint64_t{0} << d) : 0;
    if (days == 0) {
      if (++m > 12) m = 1, ++y;
      d = 1, tod = 0;
      if (DaysFromCivil(y, m, 1) * kSecondsPerDay >= until) return std::nullopt;
      continue;
    }
    const auto nd = static_cast<unsigned>(std::countr_zero(days));
    if (nd != d) d = nd, tod = 0;
    const int64_t day_start = DaysFromCivil(y, m, d) * kSecondsPerDay;
    if (day_start >= until) return std::nullopt;
    const int t = NextTimeOfDay(s, tod);
    if (t < 0) {
      ++d, tod = 0;
      continue;
    }
    if (day_start + t >= until) return std::nullopt;
    return day_start + t;
  }
}

// ---- Parsing ----

enum class FieldKind { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldInfo {
  FieldKind kind;
  const char* name;
  unsigned min, max;
};

constexpr FieldInfo kFieldInfo[] = {
    {FieldKind::kSecond, "second", 0, 59}, {FieldKind::kMinute, "minute", 0, 59},
    {FieldKind::kHour, "hour", 0, 23},     {FieldKind::kDayOfMonth, "day-of-month", 1, 31},
    {FieldKind::kMonth, "month", 1, 12},   {FieldKind::kDayOfWeek, "day-of-week", 0, 7},
};

constexpr std::array<std::string_view, 12> kMonthNames = {
    "JANUARY", "FEBRUARY", "MARCH",     "APRIL",   "MAY",      "JUNE",
    "JULY",    "AUGUST",   "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {
    "SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch));
  });
}

// A three-letter abbreviation or the full English name; the index, or -1.
template <size_t N>
int LookupName(const std::array<std::string_view, N>& names, std::string_view upper) {
  for (size_t i = 0; i < N; ++i) {
    if (upper == names[i] || (upper.size() == 3 && names[i].substr(0, 3) == upper)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Parses one field of one expression. Tokens are matched upper-cased, but messages quote the
// user's own text.
class FieldParser {
 public:
  FieldParser(const FieldInfo& info, std::string_view text) : info_(info), text_(text) {}

  Status Bad(std::string_view token, std::string_view problem) const {
    return Status::Invalid(std::string(info_.name) + " field '" + std::string(token) + "' " +
                           std::string(problem));
  }

  // A number or (for months and weekdays) a name, within the field's range.
  Status Value(std::string_view token, unsigned* out) const {
    const std::string upper = Upper(token);
    if (AllDigits(upper)) {
      unsigned v = 0;
      for (char ch : upper.substr(0, 4)) v = v * 10 + (ch - '0');
      if (upper.size() <= 4 && v >= info_.min && v <= info_.max) {
        *out = v;
        return Status::Ok();
      }
      return Bad(token,
                 "out of range " + std::to_string(info_.min) + "-" + std::to_string(info_.max));
    }
    if (info_.kind == FieldKind::kMonth) {
      const int i = LookupName(kMonthNames, upper);
      if (i < 0) return Bad(token, "is not a month name");
      *out = i + 1;
      return Status::Ok();
    }
    if (info_.kind == FieldKind::kDayOfWeek) {
      const int i = LookupName(kWeekdayNames, upper);
      if (i < 0) return Bad(token, "is not a weekday name");
      *out = i;
      return Status::Ok();
    }
    return Bad(token, "is not a number");
  }

  // "*", "v", "a-b", each optionally with "/step"; sets bits in |bits|.
  Status RangeItem(std::string_view item, uint64_t* bits) const {
    std::string_view base = item;
    unsigned step = 1;
    bool has_step = false;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      if (!AllDigits(step_text) || step_text.size() > 4) {
        return Bad(item, "has a step that is not a number");
      }
      step = static_cast<unsigned>(std::stoul(std::string(step_text)));
      if (step == 0) return Bad(item, "has a step of 0");
      has_step = true;
    }
    // Day-of-week accepts 7 for Sunday, but "*" and "a/step" end on Saturday: "1/2" is
    // Monday, Wednesday, Friday, not also Sunday as 7.
    unsigned lo = info_.min, hi = info_.kind == FieldKind::kDayOfWeek ? 6 : info_.max;
    if (base.empty()) return Bad(item, "is incomplete");
    if (base != "*") {
      const size_t dash = base.find('-');
      if (dash == 0 || dash + 1 == base.size()) return Bad(item, "is incomplete");
      GROVE_RETURN_IF_ERROR(Value(base.substr(0, dash), &lo));
      if (dash != std::string_view::npos) {
        GROVE_RETURN_IF_ERROR(Value(base.substr(dash + 1), &hi));
        if (lo > hi) return Bad(item, "is a backwards range");
      } else if (!has_step) {
        hi = lo;
      }
    }
    for (unsigned v = lo; v <= hi; v += step) *bits |= uint64_t{1} << v;
    return Status::Ok();
  }

  const FieldInfo& info() const { return info_; }
  std::string_view text() const { return text_; }

 private:
  const FieldInfo& info_;
  std::string_view text_;
};

// The day-of-month forms L, L-k, LW and nW. Returns false if |upper| is none of them.
bool DayOfMonthSpecial(const FieldParser& p, std::string_view item, const std::string& upper,
                       Fields* s, Status* st) {
  if (upper == "L") {
    s->last_day |= 1;
  } else if (upper == "LW") {
    s->last_weekday = true;
  } else if (upper.starts_with("L-")) {
    const std::string_view k = std::string_view(upper).substr(2);
    if (!AllDigits(k) || k.size() > 2 || std::stoi(std::string(k)) > 30) {
      *st = p.Bad(item, "has an offset from the last day outside 0-30");
    } else {
      s->last_day |= uint32_t{1} << std::stoi(std::string(k));
    }
  } else if (upper.size() > 1 && upper.back() == 'W') {
    unsigned n = 0;
    *st = p.Value(item.substr(0, item.size() - 1), &n);
    if (st->ok()) s->nearest_weekday |= uint64_t{1} << n;
  } else {
    return false;
  }
  return true;
}

// The day-of-week forms w#n and wL. Returns false if |upper| is neither.
bool DayOfWeekSpecial(const FieldParser& p, std::string_view item, const std::string& upper,
                      Fields* s, Status* st) {
  unsigned w = 0;
  if (const size_t hash = upper.find('#'); hash != std::string::npos) {
    *st = p.Value(item.substr(0, hash), &w);
    if (!st->ok()) return true;
    const std::string_view n = std::string_view(upper).substr(hash + 1);
    if (n.size() != 1 || n[0] < '1' || n[0] > '5') {
      *st = p.Bad(item, "has an occurrence outside 1-5");
      return true;
    }
    s->nth_weekday |= uint64_t{1} << ((w % 7) * 8 + (n[0] - '0'));
    return true;
  }
  if (upper.size() > 1 && upper.back() == 'L') {
    *st = p.Value(item.substr(0, item.size() - 1), &w);
    if (st->ok()) s->last_of_weekday |= uint32_t{1} << (w % 7);
    return true;
  }
  return false;
}

// Parses a comma-separated field into |bits| (and the day forms into |s|).
Status ParseField(const FieldParser& p, uint64_t* bits, Fields* s) {
  const FieldKind kind = p.info().kind;
  const bool day_field = kind == FieldKind::kDayOfMonth || kind == FieldKind::kDayOfWeek;
  if (p.text() == "?") {
    if (!day_field) return p.Bad("?", "is only allowed in day-of-month and day-of-week");
    return p.RangeItem("*", bits);
  }
  std::string_view rest = p.text();
  for (;;) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (item.empty()) return p.Bad(p.text(), "has an empty list element");
    const std::string upper = Upper(item);
    Status st;
    const bool special =
        (kind == FieldKind::kDayOfMonth && DayOfMonthSpecial(p, item, upper, s, &st)) ||
        (kind == FieldKind::kDayOfWeek && DayOfWeekSpecial(p, item, upper, s, &st));
    if (!special) {
      if (upper == "?") return p.Bad(p.text(), "uses '?' in a list");
      st = p.RangeItem(item, bits);
    }
    GROVE_RETURN_IF_ERROR(st);
    if (comma == std::string_view::npos) return Status::Ok();
    rest.remove_prefix(comma + 1);
  }
}

std::vector<std::string_view> SplitFields(std::string_view expr) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    const size_t start = i;
    while (i < expr.size() && !std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    if (i > start) fields.push_back(expr.substr(start, i - start));
  }
  return fields;
}

// The five-field equivalent of a macro, or "" if |name| is not one.
std::string_view ExpandMacro(const std::string& name) {
  if (name == "@YEARLY" || name == "@ANNUALLY") return "0 0 1 1 *";
  if (name == "@MONTHLY") return "0 0 1 * *";
  if (name == "@WEEKLY") return "0 0 * * 0";
  if (name == "@DAILY" || name == "@MIDNIGHT") return "0 0 * * *";
  if (name == "@HOURLY") return "0 * * * *";
  return "";
}

// Fills the fields of |s| from |expr| (the macro already expanded).
Status ParseFields(std::string_view expr, Fields* s) {
  std::vector<std::string_view> fields = SplitFields(expr);
  if (fields.size() == 1 && fields[0].starts_with('@')) {
    const std::string_view expansion = ExpandMacro(Upper(fields[0]));
    if (expansion.empty()) {
      return Status::Invalid("unknown macro '" + std::string(fields[0]) +
                             "' (expected @yearly, @annually, @monthly, @weekly, @daily, "
                             "@midnight or @hourly)");
    }
    fields = SplitFields(expansion);
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return Status::Invalid("wrong number of fields (expected 5 or 6, got " +
                           std::to_string(fields.size()) + ")");
  }
  if (fields.size() == 5) fields.insert(fields.begin(), "0");

  uint64_t bits[6] = {};
  for (size_t i = 0; i < 6; ++i) {
    GROVE_RETURN_IF_ERROR(ParseField(FieldParser(kFieldInfo[i], fields[i]), &bits[i], s));
  }
  s->seconds = bits[0];
  s->minutes = bits[1];
  s->hours = static_cast<uint32_t>(bits[2]);
  s->dom = bits[3];
  s->months = static_cast<uint32_t>(bits[4]);
  s->dow = static_cast<uint32_t>((bits[5] | bits[5] >> 7) & 0x7f);  // 7 is Sunday too
  auto starred = [](std::string_view f) { return f[0] == '*' || f[0] == '?'; };
  s->days_and = starred(fields[3]) || starred(fields[5]);
  // fields[0] is the seconds field ("0" when omitted), which cronie does not have.
  s->fixed_time = fields[1][0] != '*' && fields[2][0] != '*';
  return Status::Ok();
}

}  // namespace

Status CronSchedule::Parse(std::string_view expr, std::string_view tz_name, CronSchedule* out) {
  auto impl = std::make_shared<Impl>();
  if (Status st = ParseFields(expr, &impl->fields); !st.ok()) {
    return Status::Invalid("invalid cron expression '" + std::string(expr) + "': " + st.message());
  }
  impl->expr = std::string(expr);
  impl->tz = tz_name.empty() ? "UTC" : std::string(tz_name);
  if (!impl->zone.Locate(impl->tz)) return Status::Invalid("unknown time zone '" + impl->tz + "'");
  out->impl_ = std::move(impl);
  return Status::Ok();
}

const std::string& CronSchedule::expr() const {
  static const std::string kEmpty;
  return impl_ ? impl_->expr : kEmpty;
}

const std::string& CronSchedule::tz() const {
  static const std::string kUtc = "UTC";
  return impl_ ? impl_->tz : kUtc;
}

// The zone's history is a sequence of periods of constant UTC offset. Within one period local
// time is UTC plus the offset, so the search is a plain calendar search in local time, bounded
// by the period's end; the DST rules only concern the edges between periods.
std::optional<int64_t> CronSchedule::Next(int64_t after_epoch_s) const {
  if (!impl_ || after_epoch_s >= kMaxEpoch) return std::nullopt;
  const Fields& s = impl_->fields;
  const Zone& zone = impl_->zone;
  int64_t t = std::max(after_epoch_s, kMinEpoch) + 1;  // the earliest acceptable instant
  const int64_t horizon = std::min(t + kHorizonSeconds, kMaxEpoch);
  if (zone.utc()) return NextLocal(s, t, horizon);
  while (t < horizon) {
    const Period p = zone.At(t);
    int64_t from = t + p.offset;
    if (s.fixed_time && t - p.begin < kMaxOffsetChange) {
      const int64_t prev_offset = zone.OffsetAt(p.begin - 1);
      // Spring forward: wall-clock times in [begin + prev_offset, begin + offset) were skipped;
      // if any of them matches, the entry fires once, as the gap ends.
      if (prev_offset < p.offset && t == p.begin &&
          NextLocal(s, p.begin + prev_offset, p.begin + p.offset)) {
        return p.begin;
      }
      // Fall back: wall-clock times before begin + prev_offset already happened once, in the
      // previous period; a fixed-time entry does not fire for them again.
      if (prev_offset > p.offset) from = std::max(from, p.begin + prev_offset);
    }
    if (auto local = NextLocal(s, from, std::min(p.end, horizon) + p.offset)) {
      return *local - p.offset;
    }
    t = p.end;
  }
  return std::nullopt;
}

std::string FormatIsoInZone(int64_t epoch_s, const CronSchedule& schedule) {
  const int64_t offset = schedule.impl_ ? schedule.impl_->zone.OffsetAt(epoch_s) : 0;
  const int64_t local = epoch_s + offset;
  const int64_t day = FloorDiv(local, kSecondsPerDay);
  const Civil c = CivilFromDays(day);
  const int64_t tod = local - day * kSecondsPerDay;
  const int64_t abs_offset = offset < 0 ? -offset : offset;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d%c%02d:%02d",
                        static_cast<long long>(c.y), c.m, c.d, static_cast<int>(tod / 3600),
                        static_cast<int>(tod / 60 % 60), static_cast<int>(tod % 60),
                        offset < 0 ? '-' : '+', static_cast<int>(abs_offset / 3600),
                        static_cast<int>(abs_offset / 60 % 60));
  if (abs_offset % 60 != 0) {  // local mean time of old dates: offsets with seconds
    std::snprintf(buf + n, sizeof buf - n, ":%02d", static_cast<int>(abs_offset % 60));
  }
  return buf;
}

namespace {

// A tiny cursor over ISO 8601 text.
class IsoScanner {
 public:
  explicit IsoScanner(std::string_view text) : text_(text) {}
  bool Done() const { return pos_ == text_.size(); }
  bool Peek(char ch) const { return pos_ < text_.size() && text_[pos_] == ch; }
  bool Take(char ch) {
    if (!Peek(ch)) return false;
    ++pos_;
    return true;
  }
  bool Number(size_t digits, unsigned lo, unsigned hi, unsigned* out) {
    if (text_.size() - pos_ < digits) return false;
    unsigned v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char ch = text_[pos_ + i];
      if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
      v = v * 10 + (ch - '0');
    }
    pos_ += digits;
    *out = v;
    return v >= lo && v <= hi;
  }
  void SkipDigits() {
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Status ParseIsoInZone(std::string_view text, const CronSchedule& schedule, int64_t* epoch_s) {
  auto bad = [&] {
    return Status::Invalid("invalid time '" + std::string(text) +
                           "' (expected ISO 8601, e.g. 2026-03-29T01:59:00Z or "
                           "2026-03-29T02:59:00+01:00)");
  };
  IsoScanner in(text);
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!in.Number(4, 0, 9999, &y) || !in.Take('-') || !in.Number(2, 1, 12, &mo) || !in.Take('-') ||
      !in.Number(2, 1, DaysInMonth(y, mo), &d)) {
    return bad();
  }
  if (in.Take('T') || in.Take('t') || in.Take(' ')) {
    if (!in.Number(2, 0, 23, &h) || !in.Take(':') || !in.Number(2, 0, 59, &mi)) return bad();
    if (in.Take(':')) {
      if (!in.Number(2, 0, 59, &sec)) return bad();
      if (in.Take('.') || in.Take(',')) in.SkipDigits();
    }
  }
  const int64_t local = DaysFromCivil(y, mo, d) * kSecondsPerDay + h * 3600 + mi * 60 + sec;
  if (in.Take('Z') || in.Take('z')) {
    *epoch_s = local;
  } else if (in.Peek('+') || in.Peek('-')) {
    const int sign = in.Peek('-') ? -1 : 1;
    in.Take(sign < 0 ? '-' : '+');
    unsigned oh = 0, om = 0;
    if (!in.Number(2, 0, 23, &oh)) return bad();
    if (in.Take(':')) {
      if (!in.Number(2, 0, 59, &om)) return bad();
    } else if (!in.Done() && !in.Number(2, 0, 59, &om)) {
      return bad();
    }
    *epoch_s = local - sign * static_cast<int64_t>(oh * 3600 + om * 60);
  } else {
    *epoch_s = schedule.impl_ ? schedule.impl_->zone.FromLocal(local) : local;
  }
  if (!in.Done()) return bad();
  return Status::Ok();
}

}  // namespace grove
