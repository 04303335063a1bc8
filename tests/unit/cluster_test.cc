// Leases between masters (cluster/cluster.h) on one real store: SQLite, and PostgreSQL when
// GROVE_TEST_PG_URL is set (that database is shared with other tests: names are unique to the
// run). A holder killed with -9 is test_multi_master's case.
#include "cluster/cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/clock.h"
#include "store/sql_store.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

class ClusterTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("grove-cluster-" + std::to_string(getpid()));
    fs::create_directories(dir_ / "state");
    if (GetParam() == "postgres") {
      const char* url = std::getenv("GROVE_TEST_PG_URL");
      if (url == nullptr || *url == '\0') GTEST_SKIP() << "GROVE_TEST_PG_URL is not set";
      url_ = url;
    } else {
      url_ = "sqlite:state/grove.db";
    }
    lease_ = "test-" + std::to_string(getpid()) + "-" + std::to_string(NowMs());
  }
  void TearDown() override {
    // The PostgreSQL database outlives the test: its rows go.
    std::unique_ptr<sql::Db> db;
    if (!url_.empty() && OpenMigratedDb(url_, dir_.string(), "", &db).ok()) {
      sql::Query q;
      if (db->Prepare("DELETE FROM masters WHERE name = $1 OR name = $2", &q).ok())
        (void)q.Bind(1, "a" + lease_).Bind(2, "b" + lease_).Run();
      q.Reset();
      if (db->Prepare("DELETE FROM leases WHERE name = $1", &q).ok()) (void)q.Bind(1, lease_).Run();
    }
    fs::remove_all(dir_);
  }

  Cluster::Options Opts(const std::string& name) {
    return {name + lease_, "http://" + name, "hash", url_, dir_.string(), ""};
  }

  fs::path dir_;
  std::string url_;
  std::string lease_;
};

bool WaitFor(const std::function<bool()>& pred, int ms) {
  for (int i = 0; i < ms / 50; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

TEST_P(ClusterTest, OneHolderAtATimeAndACleanStopHandsTheLeaseOver) {
  std::atomic<int> a_held{0}, b_held{0};
  auto a = std::make_unique<Cluster>(Opts("a"));
  Cluster b(Opts("b"));
  a->OnLease(lease_, [&](bool held) { a_held = held ? 1 : 0; });
  b.OnLease(lease_, [&](bool held) { b_held = held ? 1 : 0; });
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b.Start().ok());
  EXPECT_EQ(a_held.load(), 1);  // the first round runs in Start
  EXPECT_EQ(b_held.load(), 0);
  // Renewals keep it with a, never both.
  std::this_thread::sleep_for(std::chrono::milliseconds(Cluster::kRenewMs + 500));
  EXPECT_EQ(a_held.load() + b_held.load(), 1);
  EXPECT_EQ(a_held.load(), 1);
  Json view = b.Describe();
  ASSERT_EQ(view["masters"].size() >= 2, true) << view.dump();
  bool a_listed = false;
  for (const Json& m : view["masters"])
    if (m["name"] == "a" + lease_) {
      a_listed = true;
      EXPECT_EQ(m["state"], "active");
      EXPECT_EQ(m["leases"], Json::array({lease_}));
    }
  EXPECT_TRUE(a_listed) << view.dump();
  a->Stop();  // releases the lease: b takes it at its next round, not after the expiry
  EXPECT_EQ(a_held.load(), 0);
  EXPECT_TRUE(WaitFor([&] { return b_held.load() == 1; }, Cluster::kRenewMs + 1500));
}

INSTANTIATE_TEST_SUITE_P(Backends, ClusterTest, testing::Values("sqlite", "postgres"));

TEST(ConfigHashTest, LeavesOutTheDirectoryAndSecrets) {
  Json a{{"base_dir", "/srv/a"},
         {"file", "/srv/a/grove.lua"},
         {"store_password", "x"},
         {"workers", {{{"name", "w"}, {"secret", "s1"}}}}};
  Json b{{"base_dir", "/srv/b"},
         {"file", "/srv/b/grove.lua"},
         {"store_password", "y"},
         {"workers", {{{"name", "w"}, {"secret", "s2"}}}}};
  EXPECT_EQ(ConfigHash(a), ConfigHash(b));
  b["workers"][0]["name"] = "v";
  EXPECT_NE(ConfigHash(a), ConfigHash(b));
  EXPECT_EQ(ConfigHash(a).size(), 64u);
}

}  // namespace
}  // namespace grove
