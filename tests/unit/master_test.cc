// Unit tests for the master's pure bookkeeping: the router, the queue order and which worker
// may take which builder.
#include <gtest/gtest.h>

#include "http/router.h"
#include "master/job_queue.h"
#include "master/worker_registry.h"

namespace grove {
namespace {

http::Request Req(const std::string& method, const std::string& path) {
  http::Request r;
  r.method = method;
  r.path = path;
  return r;
}

TEST(Router, MatchesParamsMethodsAndRest) {
  http::Router router;
  std::string hit;
  auto handler = [&](const std::string& name) {
    return [&hit, name](const http::Request&, http::Responder) { hit = name; };
  };
  router.Add("GET", "/api/v1/builds/{id}", handler("build"));
  router.Add("GET", "/api/v1/builds/{id}/steps/{n}/log", handler("log"));
  router.Add("POST", "/api/v1/builders/{name}/force", handler("force"));
  router.Add("GET", "/static/{*}", handler("static"));

  int status = 0;
  auto req = Req("GET", "/api/v1/builds/17/steps/2/log");
  const http::Handler* h = router.Match(&req, &status);
  ASSERT_NE(h, nullptr);
  (*h)(req, nullptr);
  EXPECT_EQ(hit, "log");
  EXPECT_EQ(req.params, (std::vector<std::string>{"17", "2"}));

  req = Req("GET", "/api/v1/builds/17/");
  ASSERT_NE(router.Match(&req, &status), nullptr);
  EXPECT_EQ(req.params, std::vector<std::string>{"17"});

  req = Req("GET", "/api/v1/builders/x/force");
  EXPECT_EQ(router.Match(&req, &status), nullptr);
  EXPECT_EQ(status, 405);

  req = Req("GET", "/api/v1/nothing");
  EXPECT_EQ(router.Match(&req, &status), nullptr);
  EXPECT_EQ(status, 404);

  req = Req("GET", "/api/v1/builds/1/steps/2");
  EXPECT_EQ(router.Match(&req, &status), nullptr);
  EXPECT_EQ(status, 404);

  req = Req("GET", "/static/css/site.css");
  ASSERT_NE(router.Match(&req, &status), nullptr);
  EXPECT_EQ(req.params, std::vector<std::string>{"css/site.css"});
}

TEST(HttpTypes, DecodesPathsAndQueries) {
  EXPECT_EQ(http::UrlDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(http::UrlDecode("a+b", false), "a+b");
  EXPECT_EQ(http::UrlDecode("a+b", true), "a b");
  EXPECT_EQ(http::UrlDecode("bad%zz%", false), "bad%zz%");
  auto q = http::ParseQuery("offset=10&tail=&x=%41+b&&flag");
  EXPECT_EQ(q["offset"], "10");
  EXPECT_EQ(q["tail"], "");
  EXPECT_EQ(q["x"], "A b");
  EXPECT_TRUE(q.count("flag"));
}

TEST(JobQueue, HighestPriorityThenOldestFirst) {
  JobQueue q;
  q.Add({5, 0, "a"});
  q.Add({3, 0, "b"});
  q.Add({9, 10, "c"});
  q.Add({4, 10, "d"});
  std::vector<int64_t> order;
  for (const auto& r : q) order.push_back(r.id);
  EXPECT_EQ(order, (std::vector<int64_t>{4, 9, 3, 5}));
  EXPECT_TRUE(q.Remove(9, 10));
  EXPECT_FALSE(q.Remove(9, 10));
  EXPECT_EQ(q.size(), 3u);
}

TEST(WorkerRegistry, PicksAFittingWorkerWithRoom) {
  BuilderConfig linux_builder;
  linux_builder.name = "lin";
  linux_builder.tags = {"linux"};
  BuilderConfig named;
  named.name = "named";
  named.workers = {"win"};

  WorkerRegistry reg;
  ConnectedWorker lin;
  lin.name = "lin1";
  lin.tags = {"linux", "x86"};
  lin.capacity = 1;
  reg.Add(lin);
  ConnectedWorker win;
  win.name = "win";
  win.tags = {"windows"};
  win.capacity = 2;
  reg.Add(win);

  ASSERT_NE(reg.PickFor(linux_builder), nullptr);
  EXPECT_EQ(reg.PickFor(linux_builder)->name, "lin1");
  EXPECT_EQ(reg.PickFor(named)->name, "win");

  reg.Find("lin1")->running.insert({1, 1});
  EXPECT_EQ(reg.PickFor(linux_builder), nullptr);  // full
  EXPECT_TRUE(reg.AnyFree());
  reg.Find("win")->paused = true;
  EXPECT_EQ(reg.PickFor(named), nullptr);  // paused takes nothing new
  EXPECT_FALSE(reg.AnyFree());
}

// A builder's "os:NAME" tag is met by the os a worker reported in its hello, or by a tag.
TEST(WorkerRegistry, OsTagsMatchTheReportedOperatingSystem) {
  BuilderConfig windows_only;
  windows_only.tags = {"os:windows", "win32"};
  ConnectedWorker w;
  w.tags = {"win32"};
  EXPECT_FALSE(WorkerFits(w, windows_only));  // says nothing about its os
  w.os = "linux";
  EXPECT_FALSE(WorkerFits(w, windows_only));
  w.os = "windows";
  EXPECT_TRUE(WorkerFits(w, windows_only));
  w.os = "";
  w.tags = {"win32", "os:windows"};
  EXPECT_TRUE(WorkerFits(w, windows_only));
}

}  // namespace
}  // namespace grove
