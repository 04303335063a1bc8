// The metrics registry's text exposition: what Prometheus' parser relies on (escaping,
// cumulative buckets agreeing with _count, label order, values), and label sets replaced whole.
#include <gtest/gtest.h>

#include <thread>

#include "metrics/registry.h"

namespace grove::metrics {
namespace {

TEST(MetricsRegistryTest, CountersAndGaugesRenderWithEscapedLabels) {
  Registry r;
  Family* c =
      r.Add(Kind::kCounter, "grove_things_total", "Things.\nDone \\ here.", {"builder", "result"});
  c->counter({"a\"b\\c\nd", "success"}).Inc();
  c->counter({"a\"b\\c\nd", "success"}).Inc(2);
  Family* g = r.Add(Kind::kGauge, "grove_level", "Level.", {});
  g->gauge().Set(0.25);
  EXPECT_EQ(r.Render(),
            "# HELP grove_things_total Things.\\nDone \\\\ here.\n"
            "# TYPE grove_things_total counter\n"
            "grove_things_total{builder=\"a\\\"b\\\\c\\nd\",result=\"success\"} 3\n"
            "# HELP grove_level Level.\n"
            "# TYPE grove_level gauge\n"
            "grove_level 0.25\n");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndAgreeWithCount) {
  Registry r;
  Family* h = r.Add(Kind::kHistogram, "grove_wait_seconds", "Wait.", {"result"}, {1, 5}, true);
  for (double v : {0.5, 1.0, 3.0, 7.0, 100.0}) h->histogram({"ok"}).Observe(v);
  EXPECT_EQ(r.Render(),
            "# HELP grove_wait_seconds Wait.\n"
            "# TYPE grove_wait_seconds histogram\n"
            "grove_wait_seconds_bucket{result=\"ok\",le=\"1\"} 2\n"
            "grove_wait_seconds_bucket{result=\"ok\",le=\"5\"} 3\n"
            "grove_wait_seconds_bucket{result=\"ok\",le=\"+Inf\"} 5\n"
            "grove_wait_seconds_sum{result=\"ok\"} 111.5\n"
            "grove_wait_seconds_count{result=\"ok\"} 5\n");
}

TEST(MetricsRegistryTest, ReplacedGaugesDropVanishedLabelSets) {
  Registry r;
  Family* g = r.Add(Kind::kGauge, "grove_queued", "Queued.", {"builder"});
  g->ReplaceGauges({{{"a"}, 1}, {{"b"}, 2}});
  g->ReplaceGauges({{{"b"}, 3}});
  const std::string text = r.Render();
  EXPECT_EQ(text.find("builder=\"a\""), std::string::npos);
  EXPECT_NE(text.find("grove_queued{builder=\"b\"} 3\n"), std::string::npos);
}

TEST(MetricsRegistryTest, OwnerThreadUpdatesWhileAnotherRenders) {
  Registry r;
  Family* c = r.Add(Kind::kCounter, "grove_n_total", "N.", {"k"}, {}, true);
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) c->counter({std::to_string(i % 50)}).Inc();
  });
  for (int i = 0; i < 200; ++i) (void)r.Render();
  writer.join();
  double total = 0;
  for (int k = 0; k < 50; ++k) total += c->counter({std::to_string(k)}).value();
  EXPECT_EQ(total, 20000);
}

TEST(MetricsRegistryTest, ValuesAreFormattedForTheTextFormat) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace grove::metrics
