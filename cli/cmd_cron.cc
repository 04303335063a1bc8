// grove cron next: when a cron expression fires, shown in its time zone. The same engine
// (core/cron.h) drives the master's cron schedulers, so this answers "when will my entry run?".
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/clock.h"
#include "core/cron.h"

namespace grove {

namespace {

struct CronNextArgs {
  std::vector<std::string> expr;  // words joined by spaces, so quoting the whole is optional
  std::string tz = "UTC";
  std::string from;
  int count = 5;
};

void CronNext(const CronNextArgs& a) {
  std::string expr;
  for (const std::string& word : a.expr) expr += (expr.empty() ? "" : " ") + word;
  CronSchedule schedule;
  Status st = CronSchedule::Parse(expr, a.tz, &schedule);
  if (!st.ok()) Fail(kExitUsage, st.message());

  int64_t t = NowMs() / 1000;
  if (!a.from.empty()) {
    st = ParseIsoInZone(a.from, schedule, &t);
    if (!st.ok()) Fail(kExitUsage, "--from: " + st.message());
  }
  for (int i = 0; i < a.count; ++i) {
    const std::optional<int64_t> next = schedule.Next(t);
    if (!next) {
      if (i > 0) break;  // the horizon ended the list early; what was found stands
      Fail(kExitFailure, "'" + expr + "' does not fire in the " +
                             std::to_string(CronSchedule::kHorizonYears) + " years after " +
                             FormatIsoInZone(t, schedule));
    }
    std::cout << FormatIsoInZone(*next, schedule) << '\n';
    t = *next;
  }
}

}  // namespace

void AddCronCommand(CLI::App& app) {
  auto* cron = app.add_subcommand("cron", "Cron expressions: check them and see when they fire");
  cron->require_subcommand(1);

  auto* next = cron->add_subcommand(
      "next",
      "Print the next fire times of EXPR, one per line, as ISO 8601 local times with the zone's "
      "offset (e.g. 2026-03-29T03:00:00+02:00). EXPR has 5 fields (minute hour day-of-month month "
      "day-of-week) or 6 (a leading seconds field), or is a macro such as @daily; quote it.\n"
      "Exit codes: 0 ok, 1 the expression never fires, 2 invalid expression, zone or time.");
  auto a = std::make_shared<CronNextArgs>();
  next->add_option("EXPR", a->expr, "The cron expression, e.g. '*/15 9-17 * * mon-fri'")
      ->required();
  next->add_option("--tz", a->tz, "IANA time zone the expression is read in, e.g. Europe/Rome")
      ->capture_default_str();
  next->add_option("--from", a->from,
                   "Print fire times strictly after this time (default: now): "
                   "2026-03-29T01:59:00Z, 2026-03-29T02:59:00+01:00, or without a zone, read in "
                   "--tz");
  next->add_option("--count,-n", a->count, "How many fire times to print")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  next->callback([a] { CronNext(*a); });
}

}  // namespace grove
