// Tests for notify.email, notify.irc, notify.webhook and notify.status in grove.lua: what they
// read, and the one-line file:line errors `grove checkconfig` gives for bad addresses, URLs,
// modes, templates and builder names.
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

// Lines 1-3: a worker and two builders the notifiers can name.
constexpr const char* kBase =
    "worker \"w1\" { secret = \"s\", tags = { \"linux\" } }\n"
    "builder \"release-linux\" { tags = { \"linux\" }, steps = { shell { \"true\" } } }\n"
    "builder \"test\" { tags = { \"linux\" }, steps = { shell { \"true\" } } }\n";

class NotifyConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_notify_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(fs::path(dir_) / "secrets");
    std::ofstream(fs::path(dir_) / "secrets" / "smtp") << "smtp-password\n";
    std::ofstream(fs::path(dir_) / "secrets" / "gh") << "gh-token\n";
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

TEST_F(NotifyConfigTest, Email) {
  Status st = Load(
      "notify.email { to = { \"dev@example.org\" }, from = \"Grove <grove@example.org>\",\n"
      "  smtp = { host = \"mail.example.org\", port = 2525, tls = \"implicit\", user = \"g\",\n"
      "           password = secret \"smtp\" },\n"
      "  subject = \"${build.builder}: ${build.result}\", send_to_authors = true,\n"
      "  mode = \"problem\", builders = { \"release-*\" }, log_lines = 5, retry_delay = \"5s\" }\n"
      "notify.email { to = \"qa@example.org\", from = \"grove@example.org\" }\n");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.notify.email.size(), 2u);
  const EmailNotifierConfig& e = config_.notify.email[0];
  EXPECT_EQ(e.common.name, "email");
  EXPECT_EQ(e.common.mode, std::vector<std::string>{"problem"});
  EXPECT_EQ(e.common.builders, std::vector<std::string>{"release-*"});
  EXPECT_EQ(e.common.log_lines, 5);
  EXPECT_EQ(e.common.retry_delay_ms, 5000);
  EXPECT_EQ(e.common.where, "grove.lua:4");
  EXPECT_EQ(e.smtp.host, "mail.example.org");
  EXPECT_EQ(e.smtp.port, 2525);
  EXPECT_EQ(e.smtp.tls, "implicit");
  EXPECT_EQ(e.smtp.password, "smtp-password");
  EXPECT_TRUE(e.send_to_authors);
  const EmailNotifierConfig& e2 = config_.notify.email[1];
  EXPECT_EQ(e2.common.name, "email-2");
  EXPECT_EQ(e2.to, std::vector<std::string>{"qa@example.org"});
  EXPECT_EQ(e2.common.mode, (std::vector<std::string>{"failing", "passing", "warnings"}));
  EXPECT_EQ(e2.smtp.tls, "starttls");
}

TEST_F(NotifyConfigTest, OtherKinds) {
  Status st = Load(
      "notify.irc { server = \"irc.example.org\", nick = \"grove-bot\", channels = { \"#ci\" },\n"
      "             allow_force = { \"alice\" }, tls = true }\n"
      "notify.webhook { url = \"https://hooks.example.org/x\", secret = \"k\", format = \"slack\" "
      "}\n"
      "notify.status { provider = \"github\", token = secret \"gh\" }\n"
      "notify.status { name = \"tea\", provider = \"gitea\", url = \"https://tea.example/\",\n"
      "                token = \"t\", repo = \"me/app\" }\n");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.notify.irc.size(), 1u);
  EXPECT_EQ(config_.notify.irc[0].channels, std::vector<std::string>{"#ci"});
  EXPECT_EQ(config_.notify.webhook[0].format, "slack");
  EXPECT_EQ(config_.notify.webhook[0].common.mode, std::vector<std::string>{"all"});
  EXPECT_EQ(config_.notify.status[0].url, "https://api.github.com");
  EXPECT_EQ(config_.notify.status[0].token, "gh-token");
  EXPECT_EQ(config_.notify.status[1].url, "https://tea.example");
  EXPECT_EQ(config_.notify.status[1].repo, "me/app");
}

TEST_F(NotifyConfigTest, Errors) {
  EXPECT_EQ(Error("notify.email { to = { \"not an address\" }, from = \"g@example.org\" }\n"),
            "grove.lua:4: option 'to' in notify.email 'email': 'not an address' is not a mail "
            "address like dev@example.org");
  EXPECT_THAT(Error("notify.email { to = { \"a@b.org\" } }\n"),
              StartsWith("grove.lua:4: missing required option 'from'"));
  EXPECT_THAT(
      Error("notify.email { to = { \"a@b.org\" }, from = \"g@x.org\", mode = { \"failed\" } }\n"),
      HasSubstr("unknown mode 'failed' in notify.email 'email'"));
  EXPECT_THAT(Error("notify.email { to = { \"a@b.org\" }, from = \"g@x.org\", subject = "
                    "\"${build.rsult}\" }\n"),
              HasSubstr("grove.lua:4: option 'subject' in notify.email 'email': unknown field "
                        "'${build.rsult}'"));
  EXPECT_THAT(
      Error(
          "notify.email { to = { \"a@b.org\" }, from = \"g@x.org\", smtp = { tls = \"ssl\" } }\n"),
      HasSubstr("option 'tls' in smtp of notify.email must be"));
  EXPECT_THAT(
      Error("notify.email { to = { \"a@b.org\" }, from = \"g@x.org\", builders = { \"tset\" } }\n"),
      StartsWith("grove.lua:4: notify.email 'email' names unknown builder 'tset'"));
  EXPECT_THAT(Error("notify.webhook { url = \"ftp://x.example/\" }\n"),
              HasSubstr("option 'url' in notify.webhook 'webhook' is not a valid http(s) URL"));
  EXPECT_THAT(Error("notify.webhook { url = \"https://\" }\n"),
              HasSubstr("is not a valid http(s) URL"));
  EXPECT_THAT(Error("notify.status { provider = \"bitbucket\", token = \"t\" }\n"),
              HasSubstr("option 'provider' in notify.status 'status' must be"));
  EXPECT_THAT(Error("notify.status { provider = \"gitea\", token = \"t\" }\n"),
              HasSubstr("needs url ="));
  EXPECT_THAT(Error("notify.irc { server = \"irc.example.org\", channels = { \"ci\" } }\n"),
              HasSubstr("'ci' is not a channel name"));
  EXPECT_THAT(
      Error(
          "notify.irc { server = \"irc.example.org\", nick = \"1bot\", channels = { \"#c\" } }\n"),
      HasSubstr("'1bot' is not an IRC nick"));
  EXPECT_THAT(Error("notify.email { name = \"m\", to = \"a@b.org\", from = \"g@x.org\" }\n"
                    "notify.webhook { name = \"m\", url = \"http://x.example/\" }\n"),
              StartsWith("grove.lua:5: duplicate notifier 'm'"));
  EXPECT_THAT(Error("notify.sms { }\n"), HasSubstr("there is no notifier notify.sms"));
  EXPECT_THAT(Error("notify.email { to = \"a@b.org\", from = \"g@x.org\", tiemout = 3 }\n"),
              HasSubstr("unknown option 'tiemout' in notify.email (did you mean 'timeout'?)"));
}

}  // namespace
}  // namespace grove
