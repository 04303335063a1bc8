// grove.lua's pipeline functions: checkout, test, set_property, upload, download, publish, the
// shared step options, locks, collapse and the artifact store (src/config/api_pipeline_steps.cc,
// step_options.cc, api_locks.cc, api_artifact_store.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kWorker = "worker \"w1\" { secret = \"s\", tags = { \"linux\" } }\n";

class PipelineConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_pipeline_config.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Load(const std::string& body) {
    std::ofstream(fs::path(dir_) / "grove.lua") << kWorker << body;
    config_ = Config();
    return LoadConfig((fs::path(dir_) / "grove.lua").string(), &config_);
  }
  std::string Error(const std::string& body) {
    Status st = Load(body);
    EXPECT_FALSE(st.ok()) << body;
    return st.message();
  }
  const std::vector<StepSpec>& Steps() { return config_.builders.at(0).steps; }

  std::string dir_;
  Config config_;
};

TEST_F(PipelineConfigTest, TheSeedPipelineLoads) {
  Status st = Load(R"lua(
local db = lock.master { "db", max = 2 }
artifacts { max_size = 1048576 }
builder "release" {
  tags = { "linux" }, locks = { db, lock.worker { "disk" } }, collapse = true,
  steps = {
    checkout { repo = "https://git.example/app.git", branch = "main", mode = "full", shallow = true,
               submodules = true },
    test { "nosetests --with-xunit", junit = "nosetests.xml", flunk_on_failure = false,
           warn_on_failure = true },
    set_property { "git describe", property = "version" },
    shell { "python setup.py py2exe", name = "executable", timeout = "10m", max_output = 1000,
            decode_rc = { [0] = "success", [1] = "warnings" }, description = "build the exe",
            env = { V = "${prop:version}" } },
    upload { "dist/*.zip", to = "releases/${prop:buildnumber}/" },
    download { "releases/1/app.zip", build = 7, to = "in/app.zip" },
    publish { { "dist/*.zip", "dist/*.txt" }, url = "https://wiki.example/rest/api/content/42/child/attachment",
              auth = secret "wiki", auth_type = "basic", method = "POST" },
    shell { "rm -rf tmp", name = "cleanup", always_run = true },
  },
}
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const BuilderConfig& b = config_.builders.at(0);
  EXPECT_TRUE(b.collapse);
  ASSERT_EQ(b.locks.size(), 2u);
  EXPECT_EQ(b.locks[0].kind, "master");
  EXPECT_EQ(b.locks[0].name, "db");
  EXPECT_EQ(b.locks[0].max, 2);
  EXPECT_EQ(b.locks[1].kind, "worker");
  EXPECT_EQ(b.locks[1].max, 1);
  EXPECT_EQ(config_.artifact_max_bytes, 1048576);
  const auto& s = Steps();
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s[0].type, "git");
  EXPECT_EQ(s[0].name, "checkout");
  EXPECT_EQ(s[0].options["repo"], "https://git.example/app.git");
  EXPECT_EQ(s[0].options["mode"], "full");
  EXPECT_EQ(s[0].options["shallow"], true);
  EXPECT_EQ(s[1].type, "test");
  EXPECT_EQ(s[1].command, "nosetests --with-xunit");
  EXPECT_EQ(s[1].options["junit"], "nosetests.xml");
  EXPECT_EQ(s[1].options["flunk_on_failure"], false);
  EXPECT_EQ(s[2].options["property"], "version");
  EXPECT_EQ(s[3].options["decode_rc"], (Json{{"0", "success"}, {"1", "warnings"}}));
  EXPECT_EQ(s[3].options["max_output"], 1000);
  EXPECT_EQ(s[3].timeout_s, 600);
  EXPECT_EQ(s[3].env.at("V"), "${prop:version}");
  EXPECT_EQ(s[4].options["files"], Json::array({"dist/*.zip"}));
  EXPECT_EQ(s[4].options["to"], "releases/${prop:buildnumber}/");
  EXPECT_EQ(s[5].options["build"], "7");
  EXPECT_EQ(s[6].options["files"], Json::array({"dist/*.zip", "dist/*.txt"}));
  // The secret travels by name; its value is never in the config model.
  EXPECT_EQ(s[6].options["auth"], "${secret:wiki}");
  EXPECT_EQ(s[6].options["auth_type"], "basic");
  EXPECT_EQ(s[7].options["always_run"], true);
}

TEST_F(PipelineConfigTest, CheckoutTakesAGitSource) {
  Status st = Load(R"lua(
local app = git { url = "https://git.example/app.git" }
builder "b" { tags = { "linux" }, steps = { checkout(app), checkout { app, mode = "full" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Steps()[0].options["repo"], "https://git.example/app.git");
  EXPECT_EQ(Steps()[1].options["repo"], "https://git.example/app.git");
  EXPECT_EQ(Steps()[1].options["mode"], "full");
}

TEST_F(PipelineConfigTest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_EQ(
      Error(
          "builder \"b\" { tags = {}, steps = { checkout { repo = \"x\", mode = \"fast\" } } }\n"),
      "grove.lua:2: option 'mode' in checkout step must be \"incremental\" or \"full\", got "
      "'fast'");
  EXPECT_EQ(Error("builder \"b\" { tags = {}, steps = { test { \"make test\" } } }\n"),
            "grove.lua:2: test step needs junit = \"report.xml\" (the JUnit XML reports to read)");
  EXPECT_EQ(Error("builder \"b\" { tags = {}, steps = { set_property { \"x\" } } }\n"),
            "grove.lua:2: missing required option 'property' in set_property step");
  EXPECT_EQ(Error("builder \"b\" { tags = {}, steps = { upload { \"a\", to = \"../x\" } } }\n"),
            "grove.lua:2: option 'to' in upload step must stay inside the build directory, got "
            "'../x'");
  EXPECT_THAT(
      Error("builder \"b\" { tags = {}, steps = { publish { \"a\", url = \"ftp://x\" } } }\n"),
      HasSubstr("must be an http:// or https:// URL"));
  EXPECT_THAT(Error("builder \"b\" { tags = {}, steps = { shell { \"x\", decode_rc = { [1] = "
                    "\"meh\" } } } }\n"),
              HasSubstr("unknown result 'meh'"));
  EXPECT_THAT(Error("builder \"b\" { tags = {}, steps = { shell { \"x\", alwaysrun = true } } }\n"),
              HasSubstr("alwaysrun"));
  EXPECT_THAT(
      Error("builder \"b\" { tags = {}, locks = { \"db\" }, steps = { shell { \"x\" } } }\n"),
      HasSubstr("must be a list of locks made by lock.master"));
  EXPECT_THAT(Error("local l = lock.master { \"db\", max = 0 }\n"), HasSubstr("between 1 and"));
}

}  // namespace
}  // namespace grove

namespace grove {
namespace {

// shell = "..." names the shell a command runs through (the Windows worker's cmd, PowerShell).
TEST_F(PipelineConfigTest, ShellOptionIsCheckedAndCarriedToTheWorker) {
  Status st = Load(R"lua(
builder "win" { tags = { "os:windows" }, steps = {
  shell { "dir", shell = "cmd" },
  test { "Invoke-Pester", shell = "powershell", junit = "r.xml" },
  set_property { "echo 1", property = "v", shell = "pwsh" },
  shell { "make" },
} }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Steps()[0].options.value("shell", ""), "cmd");
  EXPECT_EQ(Steps()[1].options.value("shell", ""), "powershell");
  EXPECT_EQ(Steps()[2].options.value("shell", ""), "pwsh");
  EXPECT_FALSE(Steps()[3].options.contains("shell"));
  EXPECT_THAT(
      Error(R"lua(builder "b" { steps = { shell { "x", shell = "bash" } } })lua"),
      HasSubstr("option 'shell' in shell step must be sh, cmd, powershell or pwsh, got 'bash'"));
  EXPECT_THAT(Error(R"lua(builder "b" { steps = { shell { argv = { "x" }, shell = "cmd" } } })lua"),
              HasSubstr("applies to a command, not to argv"));
}

}  // namespace
}  // namespace grove
