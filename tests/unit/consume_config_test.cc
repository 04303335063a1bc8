// Tests for the consumer-job config functions: consume, consumer and schedule.cron { consume }.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/loader.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConsumeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_consume_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Load(const std::string& lua) {
    std::ofstream(fs::path(dir_) / "grove.lua")
        << "worker \"w1\" { secret = \"s\", tags = { \"linux\" } }\n"
        << lua;
    config_ = Config();
    return LoadConfig((fs::path(dir_) / "grove.lua").string(), &config_);
  }

  std::string dir_;
  Config config_;
};

TEST_F(ConsumeConfigTest, ConsumeStepCarriesConsumerAndPayload) {
  Status st = Load(R"lua(builder "b" { steps = {
  consume { "recalc_scores", payload = { batch = 500, names = { "a", "b" } }, timeout = "5m" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const StepSpec& s = config_.FindBuilder("b")->steps.at(0);
  EXPECT_EQ(s.type, "consume");
  EXPECT_EQ(s.timeout_s, 300);
  EXPECT_EQ(s.options["consumer"], "recalc_scores");
  EXPECT_EQ(s.options["payload"], Json::parse(R"({"batch": 500, "names": ["a", "b"]})"));
}

TEST_F(ConsumeConfigTest, CronWithConsumeMakesTheImplicitBuilder) {
  Status st = Load(R"lua(
schedule.cron { "recalc", "*/10 * * * *", consume = "recalc_scores", payload = { batch = 500 },
                tags = { "linux" } }
consumer { "recalc_scores", tags = { "linux" } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const BuilderConfig* b = config_.FindBuilder("consume:recalc_scores");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->tags, std::vector<std::string>{"linux"});
  ASSERT_EQ(b->steps.size(), 1u);
  EXPECT_EQ(b->steps[0].type, "consume");
  EXPECT_EQ(b->steps[0].options["payload_property"], "payload");
  ASSERT_EQ(config_.cron_schedulers.size(), 1u);
  EXPECT_EQ(config_.cron_schedulers[0].builders, std::vector<std::string>{"consume:recalc_scores"});
  EXPECT_EQ(config_.cron_schedulers[0].properties["payload"]["batch"], 500);
}

TEST_F(ConsumeConfigTest, MistakesAreOneLineErrors) {
  Status st =
      Load("schedule.cron { \"x\", \"* * * * *\", consume = \"a\", builders = { \"b\" } }\n");
  EXPECT_THAT(st.message(), HasSubstr("either consume = or builders ="));
  st = Load(
      "builder \"b\" { steps = { shell { \"true\" } } }\nschedule.cron { \"x\", \"* * * * *\", "
      "builders = { \"b\" }, "
      "payload = {} }\n");
  EXPECT_THAT(st.message(), HasSubstr("'payload' in schedule.cron needs consume"));
  st = Load("consumer { \"a\", tags = { \"x\" } }\nconsumer { \"a\", tags = { \"y\" } }\n");
  EXPECT_THAT(st.message(), HasSubstr("consumer 'a' is declared with other tags"));
  st = Load("builder \"b\" { steps = { consume { payload = {} } } }\n");
  EXPECT_THAT(st.message(), HasSubstr("consumer's name as value #1"));
  st = Load("builder \"b\" { steps = { consume { \"a\", paylod = {} } } }\n");
  EXPECT_THAT(st.message(), HasSubstr("paylod"));
}

}  // namespace
}  // namespace grove
