// Live updates across masters (cluster/live_events.h): the payload format, and two relays on one
// real PostgreSQL database when GROVE_TEST_PG_URL is set (the channel is shared with other
// tests running at the same time: events are matched by a value unique to the run).
#include "cluster/live_events.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "master/event_hub.h"

namespace grove {
namespace {

TEST(LiveEventsPayload, RoundTripsAndStaysUnderTheLimit) {
  std::vector<Json> events;
  for (int i = 0; i < 500; ++i) events.push_back(Json{{"type", "log"}, {"build", i}, {"step", 1}});
  std::vector<std::string> payloads = LiveEvents::Encode("alpha", events, 7999);
  ASSERT_GT(payloads.size(), 1u);  // 500 events do not fit in one notification
  std::vector<Json> back;
  for (const std::string& p : payloads) {
    EXPECT_LE(p.size(), 7999u);
    std::string from;
    std::vector<Json> got;
    ASSERT_TRUE(LiveEvents::Decode(p, &from, &got)) << p;
    EXPECT_EQ(from, "alpha");
    back.insert(back.end(), got.begin(), got.end());
  }
  ASSERT_EQ(back.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(back[i]["build"], events[i]["build"]);
    EXPECT_EQ(back[i]["from"], "alpha");  // the receiver knows who sent it
  }
}

TEST(LiveEventsPayload, AnEventTooLargeBecomesAResync) {
  std::vector<Json> events = {Json{{"type", "build"}, {"reason", std::string(9000, 'x')}}};
  std::vector<std::string> payloads = LiveEvents::Encode("alpha", events, 7999);
  ASSERT_EQ(payloads.size(), 1u);
  std::string from;
  std::vector<Json> got;
  ASSERT_TRUE(LiveEvents::Decode(payloads[0], &from, &got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["type"], "resync");
}

TEST(LiveEventsPayload, RefusesWhatIsNotAMastersEvents) {
  std::string from;
  std::vector<Json> got;
  for (const char* bad : {"", "not json", "[]", "{}", R"({"from": 1, "events": []})",
                          R"({"from": "a", "events": {}})", R"({"from": "a", "events": [1]})",
                          R"({"from": "a", "events": [{"type": 2}]})",
                          R"({"from": "a", "events": [{"type": "build"}, {}]})"}) {
    EXPECT_FALSE(LiveEvents::Decode(bad, &from, &got)) << bad;
    EXPECT_TRUE(got.empty()) << bad;
  }
}

// Collects what a hub sends to its subscribers.
class Collector : public http::StreamSink {
 public:
  bool Write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_ += bytes;
    return true;
  }
  bool closed() const override { return false; }
  void Close() override {}
  bool Has(const std::string& part) { return Count(part) > 0; }
  int Count(const std::string& part) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (size_t at = text_.find(part); at != std::string::npos; at = text_.find(part, at + 1)) ++n;
    return n;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

bool WaitFor(const std::function<bool()>& done, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(LiveEventsPostgres, EventsPublishedOnOneMasterReachTheOther) {
  const char* url = std::getenv("GROVE_TEST_PG_URL");
  if (url == nullptr || *url == '\0') GTEST_SKIP() << "GROVE_TEST_PG_URL is not set";
  EventHub hub_a, hub_b;
  auto seen_a = std::make_shared<Collector>(), seen_b = std::make_shared<Collector>();
  hub_a.Subscribe(seen_a);
  hub_b.Subscribe(seen_b);
  LiveEvents a({"a-" + std::to_string(getpid()), url, ""}, hub_a);
  LiveEvents b({"b-" + std::to_string(getpid()), url, ""}, hub_b);
  hub_a.SetForwarder([&a](const Json& e) { a.Send(e); });
  hub_b.SetForwarder([&b](const Json& e) { b.Send(e); });
  a.Start();
  b.Start();
  const std::string mark = "run-" + std::to_string(getpid()) + "-" + std::to_string(NowMs());
  const uint64_t gen_b = hub_b.generation();
  hub_a.Publish(Json{{"type", "build"}, {"mark", mark}});
  EXPECT_TRUE(WaitFor([&] { return seen_b->Has(mark); }));
  // Another master's change invalidates this master's cached answers too.
  EXPECT_GT(hub_b.generation(), gen_b);
  // B does not send A's event back: A saw it once, from its own Publish.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  hub_b.Publish(Json{{"type", "worker"}, {"mark", mark + "-b"}});
  EXPECT_TRUE(WaitFor([&] { return seen_a->Has(mark + "-b"); }));
  EXPECT_EQ(seen_a->Count("\"mark\":\"" + mark + "\""), 1);
  EXPECT_EQ(a.reconnects(), 0u);
  a.Stop();
  b.Stop();
}

TEST(LiveEventsStopBuild, OnlyAWellFormedStopForThisMasterIsTaken) {
  const Json ok{{"type", "stop-build"}, {"build", 7}, {"to", "b"}};
  EXPECT_EQ(LiveEvents::StopBuildFor(ok, "b"), 7);
  EXPECT_EQ(LiveEvents::StopBuildFor(ok, "a"), 0);  // another master's
  for (const char* bad :
       {R"({"type":"stop-build","build":"7","to":"b"})",
        R"({"type":"stop-build","build":7.5,"to":"b"})",
        R"({"type":"stop-build","build":0,"to":"b"})",
        R"({"type":"stop-build","build":-3,"to":"b"})",
        R"({"type":"stop-build","build":18446744073709551615,"to":"b"})",
        R"({"type":"stop-build","build":7,"to":["b"]})", R"({"type":"stop-build","build":7})",
        R"({"type":"build","build":7,"to":"b"})", R"([1,2])"})
    EXPECT_EQ(LiveEvents::StopBuildFor(Json::parse(bad), "b"), 0) << bad;
}

TEST(LiveEventsPostgres, AStopReachesTheMasterNamedAndNoPage) {
  const char* url = std::getenv("GROVE_TEST_PG_URL");
  if (url == nullptr || *url == '\0') GTEST_SKIP() << "GROVE_TEST_PG_URL is not set";
  EventHub hub_a, hub_b, hub_c;
  auto seen_b = std::make_shared<Collector>(), seen_c = std::make_shared<Collector>();
  hub_b.Subscribe(seen_b);
  hub_c.Subscribe(seen_c);
  const std::string pid = std::to_string(getpid());
  LiveEvents a({"a-" + pid, url, ""}, hub_a), b({"b-" + pid, url, ""}, hub_b),
      c({"c-" + pid, url, ""}, hub_c);
  std::mutex mu;
  std::vector<std::string> stops;  // "master:build:from"
  for (LiveEvents* m : {&b, &c}) {
    const std::string self = m == &b ? "b" : "c";
    m->OnStopBuild([&, self](int64_t build, const std::string& from) {
      std::lock_guard<std::mutex> lock(mu);
      stops.push_back(self + ":" + std::to_string(build) + ":" + from);
    });
  }
  a.Start();
  b.Start();
  c.Start();
  a.SendStopBuild(42, "b-" + pid);
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !stops.empty();
  }));
  // Then an ordinary event: once it reached both, the stop had its chance to reach c too.
  const std::string mark = "after-stop-" + pid;
  a.Send(Json{{"type", "build"}, {"mark", mark}});
  EXPECT_TRUE(WaitFor([&] { return seen_b->Has(mark) && seen_c->Has(mark); }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(stops, std::vector<std::string>{"b:42:a-" + pid});
  }
  EXPECT_EQ(seen_b->Count("stop-build"), 0);
  EXPECT_EQ(seen_c->Count("stop-build"), 0);
  a.Stop();
  b.Stop();
  c.Stop();
}

}  // namespace
}  // namespace grove
