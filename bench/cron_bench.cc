// CronSchedule::Next() throughput: how many next-fire-time computations per second, for a mix
// of everyday and awkward expressions in UTC and in zones with DST.
//
//   ./cron_bench                       all benchmarks
//   ./cron_bench --benchmark_filter=Mix
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cron.h"

namespace grove {
namespace {

constexpr int64_t kStart = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kEnd = 2114380800;    // 2037-01-01T00:00:00Z: restart the walk here

const std::vector<std::pair<std::string, std::string>>& Entries() {
  static const auto* entries = new std::vector<std::pair<std::string, std::string>>{
      {"*/15 * * * *", ""},                     // every quarter hour
      {"0 3 * * *", "Europe/Rome"},             // nightly, fixed hour in a DST zone
      {"30 2 * * *", "America/New_York"},       // in the skipped/repeated hour once a year
      {"*/10 * * * *", "Australia/Lord_Howe"},  // '*' hour across half-hour DST shifts
      {"0 9-17 * * mon-fri", "Europe/Rome"},    // office hours
      {"0 0 1 * *", ""},                        // monthly
      {"0 0 13 * 5", ""},                       // Vixie OR of the day fields
      {"0 12 L * *", "Asia/Tokyo"},             // last day of the month
      {"0 8 15W * *", "America/New_York"},      // nearest weekday
      {"0 10 ? * MON#2", "Europe/Rome"},        // second Monday
      {"30 */5 * * * *", ""},                   // six fields, seconds
      {"0 0 29 2 *", "Europe/Rome"},            // leap days only: a long jump
      {"@yearly", "America/New_York"},
  };
  return *entries;
}

CronSchedule Schedule(const std::pair<std::string, std::string>& entry) {
  CronSchedule s;
  if (!CronSchedule::Parse(entry.first, entry.second, &s).ok()) std::abort();
  return s;
}

// Walks each schedule forward fire time by fire time, so every call starts somewhere new.
void WalkSchedules(benchmark::State& state, const std::vector<CronSchedule>& schedules) {
  std::vector<int64_t> t(schedules.size(), kStart);
  size_t i = 0;
  for (auto _ : state) {
    const std::optional<int64_t> next = schedules[i].Next(t[i]);
    benchmark::DoNotOptimize(next);
    t[i] = next && *next < kEnd ? *next : kStart;
    if (++i == schedules.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_NextMix(benchmark::State& state) {
  std::vector<CronSchedule> schedules;
  for (const auto& entry : Entries()) schedules.push_back(Schedule(entry));
  WalkSchedules(state, schedules);
}
BENCHMARK(BM_NextMix);

void BM_NextEach(benchmark::State& state) {
  const auto& entry = Entries()[state.range(0)];
  state.SetLabel(entry.first + (entry.second.empty() ? "" : " " + entry.second));
  WalkSchedules(state, {Schedule(entry)});
}
BENCHMARK(BM_NextEach)->DenseRange(0, 12);

// Next() from arbitrary instants rather than from the previous fire time.
void BM_NextFromRandomInstants(benchmark::State& state) {
  std::vector<CronSchedule> schedules;
  for (const auto& entry : Entries()) schedules.push_back(Schedule(entry));
  uint64_t x = 88172645463325252ULL;  // xorshift: cheap and deterministic
  size_t i = 0;
  for (auto _ : state) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const int64_t after = kStart + static_cast<int64_t>(x % (kEnd - kStart));
    benchmark::DoNotOptimize(schedules[i].Next(after));
    if (++i == schedules.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NextFromRandomInstants);

void BM_Parse(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    CronSchedule s;
    benchmark::DoNotOptimize(CronSchedule::Parse(Entries()[i].first, Entries()[i].second, &s));
    if (++i == Entries().size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse);

}  // namespace
}  // namespace grove
