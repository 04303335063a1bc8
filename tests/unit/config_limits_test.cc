// The in-process loader's limits (config/loader.h): once hit, neither the time limit nor the
// memory limit can be caught by the config (pcall, xpcall, coroutines), and the error names the
// limit. The hard guarantee is the child process (config_eval.h, tested by
// tests/integration/test_hostile_config.py); these are what the fuzzers and the child rely on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/loader.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Clock = std::chrono::steady_clock;

class ConfigLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_config_limits_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Loads |lua| with a 300 ms time limit and |memory| bytes of Lua heap.
  Status Load(const std::string& lua, size_t memory = 0) {
    std::string path = (fs::path(dir_) / "grove.lua").string();
    std::ofstream(path) << lua;
    config_internal::LoadOptions options;
    options.time_limit = std::chrono::milliseconds(300);
    options.memory_limit = memory;
    Config c;
    auto start = Clock::now();
    Status st = config_internal::LoadConfigWithOptions(path, options, &c);
    elapsed_ = Clock::now() - start;
    return st;
  }

  std::string dir_;
  Clock::duration elapsed_{};
};

constexpr const char* kWorker =
    "worker \"w1\" { secret = \"s\" }\nbuilder \"b\" { steps = { shell { \"x\" } } }\n";

TEST_F(ConfigLimitsTest, EndlessLoopIsStoppedWithItsLine) {
  Status st = Load("local n = 0\nwhile true do\n  n = n + 1\nend\n");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_THAT(st.message(),
              MatchesRegex("grove.lua:[2-4]: evaluation exceeded the time limit of 0.3 s"));
}

TEST_F(ConfigLimitsTest, PcallCannotCatchTheTimeLimit) {
  for (const char* lua : {
           "while true do pcall(function() while true do end end) end",
           "while true do xpcall(function() while true do end end, function(e) return e end) "
           "end",
           // A message handler that itself loops.
           "while true do xpcall(error, function() while true do end end) end",
           "while true do local co = coroutine.create(function() while true do end end)\n"
           "  coroutine.resume(co) end",
           "local co = coroutine.wrap(function()\n"
           "  while true do coroutine.yield(pcall(function() while true do end end)) end end)\n"
           "while true do co() end",
           "while true do pcall(pcall, pcall, function() while true do end end) end",
       }) {
    Status st = Load(lua);
    EXPECT_TRUE(st.IsInvalid()) << lua;
    EXPECT_THAT(st.message(), MatchesRegex("grove.lua:[0-9]+: evaluation exceeded the time "
                                           "limit of 0.3 s"))
        << lua;
    EXPECT_LT(elapsed_, std::chrono::seconds(5)) << lua;
  }
}

TEST_F(ConfigLimitsTest, TheHookCannotBeRemovedOrAvoided) {
  Status st = Load("debug.sethook()\nwhile true do end\n");
  EXPECT_EQ(st.message(), "grove.lua:1: debug.sethook is not available in grove.lua");
  // Finalizers run with hooks off: an endless loop in one could not be stopped.
  st = Load("setmetatable({}, { __gc = function() while true do end end })\n");
  EXPECT_EQ(st.message(), "grove.lua:1: __gc metamethods are not available in grove.lua");
}

TEST_F(ConfigLimitsTest, MemoryBombIsStopped) {
  Status st = Load("local t = {} while true do t[#t+1] = string.rep(\"x\", 1e6) end", 32 << 20);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_EQ(st.message(), "grove.lua: evaluation exceeded the memory limit of 32 MiB");
}

TEST_F(ConfigLimitsTest, PcallCannotCatchTheMemoryLimit) {
  for (const char* lua : {
           "while true do pcall(function() local t = {}\n"
           "  while true do t[#t+1] = string.rep(\"x\", 1e6) end end) end",
           // One request too large: string.rep's buffer fails without Lua's retry.
           "while true do pcall(string.rep, \"x\", 1e9) end",
           "local s = string.rep(\"x\", 1e9)",
       }) {
    Status st = Load(lua, 32 << 20);
    EXPECT_EQ(st.message(), "grove.lua: evaluation exceeded the memory limit of 32 MiB") << lua;
  }
}

TEST_F(ConfigLimitsTest, GarbageUnderTheLimitIsCollectedNotReported) {
  // 200 MiB allocated in all (100 times 1 MB twice), never more than a few MiB alive: the emergency
  // collection at the limit frees the garbage and the retried allocation succeeds.
  Status st =
      Load(std::string("collectgarbage('stop')\nfor i = 1, 100 do local s = string.rep('x', "
                       "1e6) .. i end\n") +
               kWorker,
           32 << 20);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(ConfigLimitsTest, ErrorsUnrelatedToLimitsStayCatchable) {
  Status st =
      Load(std::string("assert(not pcall(error, 'x'))\n"
                       "assert(not coroutine.resume(coroutine.create(function() error('y') end)))\n"
                       "assert(select('#', pcall(function() return 1, 2, 3 end)) == 4)\n") +
               kWorker,
           64 << 20);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(ConfigLimitsTest, LimitsAreDescribed) {
  using config_internal::DescribeCpuLimit;
  using config_internal::DescribeMemoryLimit;
  using config_internal::DescribeTimeLimit;
  EXPECT_EQ(DescribeTimeLimit(std::chrono::seconds(10)), "the time limit of 10 s");
  EXPECT_EQ(DescribeTimeLimit(std::chrono::milliseconds(1500)), "the time limit of 1.5 s");
  EXPECT_EQ(DescribeMemoryLimit(size_t{512} << 20), "the memory limit of 512 MiB");
  EXPECT_EQ(DescribeCpuLimit(std::chrono::seconds(3)), "the CPU limit of 3 s");
}

}  // namespace
}  // namespace grove
