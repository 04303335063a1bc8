// Tests for the scheduler, change source, webhook and trigger functions of grove.lua.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Line 1: a worker; line 2: a builder the schedulers can name.
constexpr const char* kBase =
    "worker \"w1\" { secret = \"s\", tags = { \"linux\" } }\n"
    "builder \"b\" { tags = { \"linux\" }, steps = { shell { \"true\" } } }\n";

class ConfigSchedulersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_sched_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Load(const std::string& lua) {
    std::ofstream(fs::path(dir_) / "grove.lua") << kBase << lua;
    config_ = Config();
    return LoadConfig((fs::path(dir_) / "grove.lua").string(), &config_);
  }
  std::string Error(const std::string& lua) {
    Status st = Load(lua);
    EXPECT_FALSE(st.ok()) << lua;
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
    return st.message();
  }

  std::string dir_;
  Config config_;
};

TEST_F(ConfigSchedulersTest, Cron) {
  Status st = Load(
      "schedule.cron { \"nightly\", \"0 3 * * *\", tz = \"Europe/Rome\", builders = { \"b\" },\n"
      "                catch_up = \"once\", properties = { full = true } }\n"
      "schedule.cron { name = \"fast\", expr = \"*/2 * * * * *\", builders = { \"b\" } }\n");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.cron_schedulers.size(), 2u);
  const CronSchedulerConfig& c = config_.cron_schedulers[0];
  EXPECT_EQ(c.name, "nightly");
  EXPECT_EQ(c.expr, "0 3 * * *");
  EXPECT_EQ(c.tz, "Europe/Rome");
  EXPECT_EQ(c.catch_up, "once");
  EXPECT_EQ(c.properties["full"], true);
  EXPECT_EQ(c.where, "grove.lua:3");
  EXPECT_EQ(config_.cron_schedulers[1].catch_up, "none");
}

TEST_F(ConfigSchedulersTest, CronErrorsNameTheFieldAndLine) {
  EXPECT_THAT(Error("schedule.cron { \"x\", \"0 25 * * *\", builders = { \"b\" } }\n"),
              AllOf(StartsWith("grove.lua:3: value #2 in schedule.cron 'x': "), HasSubstr("hour"),
                    HasSubstr("25")));
  EXPECT_THAT(
      Error("\nschedule.cron { \"x\", expr = \"0 0 * FOO *\", builders = { \"b\" } }\n"),
      AllOf(StartsWith("grove.lua:4: option 'expr' in schedule.cron 'x': "), HasSubstr("FOO")));
  EXPECT_THAT(
      Error("schedule.cron { \"x\", \"0 3 * * *\", tz = \"Mars/Olympus\", builders = { \"b\" } }"),
      AllOf(StartsWith("grove.lua:3:"), HasSubstr("Mars/Olympus")));
  EXPECT_THAT(
      Error("schedule.cron { \"x\", \"0 3 * * *\", builders = { \"b\" }, catch_up = \"all\" }"),
      HasSubstr("catch_up"));
  EXPECT_THAT(Error("schedule.cron { \"x\", \"0 3 * * *\", builders = { \"nope\" } }"),
              AllOf(StartsWith("grove.lua:3: "), HasSubstr("unknown builder 'nope'")));
  EXPECT_THAT(
      Error("schedule.cron { \"x\", \"0 3 * * *\", builders = { \"b\" }, consume = \"q\" }"),
      HasSubstr("consume"));
  EXPECT_THAT(Error("schedule.cron { \"x\", \"0 3 * * *\" }"), HasSubstr("'builders'"));
}

TEST_F(ConfigSchedulersTest, PeriodicOnChangeTriggerable) {
  Status st = Load(
      "local app = git { url = \"https://git.example/app.git\", branch = \"main\", poll = \"5m\" "
      "}\n"
      "schedule.periodic { \"p\", every = \"12h\", builders = { \"b\" }, only_if_changed = app }\n"
      "schedule.on_change { \"c\", source = app, branches = { \"main\", \"release/*\" },\n"
      "                     files = \"src/*\", tree_stable = \"30s\", builders = { \"b\" } }\n"
      "schedule.triggerable { \"t\", builders = { \"b\" } }\n"
      "webhooks { github = \"gh-secret\", generic = \"tok\" }\n");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.git_sources.size(), 1u);
  EXPECT_EQ(config_.git_sources[0].poll_s, 300);
  EXPECT_EQ(config_.git_sources[0].branches, std::vector<std::string>{"main"});
  EXPECT_EQ(config_.periodic_schedulers[0].every_s, 12 * 3600);
  EXPECT_EQ(config_.periodic_schedulers[0].only_if_changed, "https://git.example/app.git");
  const OnChangeSchedulerConfig& o = config_.on_change_schedulers[0];
  EXPECT_EQ(o.source, "https://git.example/app.git");
  EXPECT_EQ(o.branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(o.files, std::vector<std::string>{"src/*"});
  EXPECT_EQ(o.tree_stable_s, 30);
  EXPECT_EQ(config_.triggerable_schedulers[0].name, "t");
  EXPECT_EQ(config_.webhooks.secrets.at("github"), "gh-secret");
  EXPECT_EQ(config_.webhooks.secrets.count("gitlab"), 0u);
}

TEST_F(ConfigSchedulersTest, SourceAndHookErrors) {
  EXPECT_THAT(Error("schedule.on_change { \"c\", source = 42, builders = { \"b\" } }"),
              HasSubstr("must be a change source made by git"));
  EXPECT_THAT(Error("schedule.on_change { \"c\", source = \"https://x\", builders = { \"b\" } }"),
              HasSubstr("no git { url = ... } declares"));
  EXPECT_THAT(Error("git { url = \"a\" }\ngit { url = \"a\" }"),
              AllOf(StartsWith("grove.lua:4: "), HasSubstr("duplicate")));
  EXPECT_THAT(Error("git { url = \"--upload-pack=x\" }"), HasSubstr("must not start with '-'"));
  EXPECT_THAT(Error("webhooks { githbu = \"x\" }"), HasSubstr("githbu"));
  EXPECT_THAT(Error("schedule.periodic { \"p\", every = \"0s\", builders = { \"b\" } }"),
              HasSubstr("at least 1s"));
  EXPECT_THAT(Error("schedule.triggerable { \"b2\", builders = { \"b\" } }\n"
                    "schedule.cron { \"b2\", \"* * * * *\", builders = { \"b\" } }"),
              HasSubstr("duplicate scheduler 'b2'"));
}

TEST_F(ConfigSchedulersTest, TriggerStepAndForceParams) {
  Status st = Load(
      "builder \"up\" { tags = { \"linux\" }, steps = {\n"
      "  trigger { \"t\", wait = false, properties = { v = \"1\" } } } }\n"
      "schedule.triggerable { \"t\", builders = { \"b\" } }\n"
      "schedule.force { \"f\", builders = { \"b\" }, params = {\n"
      "  { name = \"env\", default = \"qa\", choices = { \"qa\", \"prod\" } },\n"
      "  { name = \"ticket\", required = true } } }\n");
  ASSERT_TRUE(st.ok()) << st.message();
  const BuilderConfig* up = config_.FindBuilder("up");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->steps[0].type, "trigger");
  EXPECT_EQ(up->steps[0].options["target"], "t");
  EXPECT_EQ(up->steps[0].options["wait"], false);
  EXPECT_EQ(up->steps[0].options["properties"]["v"], "1");
  ASSERT_EQ(config_.force_schedulers[0].params.size(), 2u);
  EXPECT_EQ(config_.force_schedulers[0].params[0].default_value, "qa");
  EXPECT_TRUE(config_.force_schedulers[0].params[1].required);

  EXPECT_THAT(Error("builder \"up\" { tags = { \"linux\" }, steps = { trigger { \"nobody\" } } }"),
              AllOf(StartsWith("grove.lua:3: "), HasSubstr("triggers 'nobody'")));
  EXPECT_THAT(Error("schedule.force { \"f\", params = { { name = \"e\", default = \"x\", "
                    "choices = { \"a\" } } } }"),
              HasSubstr("not one of its choices"));
}

}  // namespace
}  // namespace grove
