// Tests for the notify library's pure parts: which results a mode reports, message templates,
// mail composition, and the outbox's store queries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/notify_check.h"
#include "core/message_template.h"
#include "notify/filter.h"
#include "notify/mail_message.h"
#include "store/store.h"

namespace grove::notify {
namespace {

using ::testing::HasSubstr;

NotifierCommon Mode(std::vector<std::string> mode) {
  NotifierCommon c;
  c.mode = std::move(mode);
  return c;
}

TEST(NotifyFilter, Modes) {
  const auto F = Result::kFailure, S = Result::kSuccess;
  EXPECT_TRUE(WantsResult(Mode({"failing"}), F, S));
  EXPECT_FALSE(WantsResult(Mode({"failing"}), S, F));
  EXPECT_TRUE(WantsResult(Mode({"problem"}), F, S));
  EXPECT_TRUE(WantsResult(Mode({"problem"}), F, std::nullopt));  // a builder's first failure
  EXPECT_FALSE(WantsResult(Mode({"problem"}), F, F));
  EXPECT_FALSE(WantsResult(Mode({"problem"}), S, F));
  EXPECT_TRUE(WantsResult(Mode({"change"}), S, F));
  EXPECT_FALSE(WantsResult(Mode({"change"}), S, S));
  EXPECT_FALSE(WantsResult(Mode({"change"}), S, std::nullopt));
  EXPECT_TRUE(WantsResult(Mode({"all"}), Result::kCancelled, std::nullopt));
  EXPECT_TRUE(WantsResult(Mode({"exception"}), Result::kException, S));
  EXPECT_TRUE(WantsResult(Mode({"warnings"}), Result::kWarnings, S));
  EXPECT_FALSE(WantsResult(Mode({"passing", "warnings"}), Result::kCancelled, S));
}

TEST(NotifyFilter, BuildersAndTags) {
  NotifierCommon c;
  BuilderConfig b;
  b.name = "release-linux";
  b.tags = {"linux"};
  EXPECT_TRUE(CoversBuilder(c, b.name, &b));
  c.builders = {"release-*"};
  EXPECT_TRUE(CoversBuilder(c, b.name, &b));
  EXPECT_FALSE(CoversBuilder(c, "test", &b));
  c.tags = {"windows"};
  EXPECT_FALSE(CoversBuilder(c, b.name, &b));
  c.tags = {"windows", "linux"};
  EXPECT_TRUE(CoversBuilder(c, b.name, &b));
  EXPECT_FALSE(CoversBuilder(c, b.name, nullptr));
}

TEST(MessageTemplate, RendersFieldsAndProperties) {
  std::string out;
  ASSERT_TRUE(RenderMessageTemplate(
                  "${build.builder} #${build.number}: ${build.result} "
                  "${prop:branch} ${prop:none:-dflt} $${x}",
                  {{"build.builder", "b"}, {"build.number", "7"}, {"build.result", "failure"}},
                  {{"branch", "main"}}, &out)
                  .ok());
  EXPECT_EQ(out, "b #7: failure main dflt ${x}");
  Status st = RenderMessageTemplate("${prop:missing}", {}, Json::object(), &out);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("property 'missing' is not set"));
  EXPECT_THAT(CheckMessageTemplate("${build.reslt}").message(),
              HasSubstr("unknown field '${build.reslt}'"));
  EXPECT_THAT(CheckMessageTemplate("${secret:x}").message(), HasSubstr("unknown field"));
  EXPECT_FALSE(CheckMessageTemplate("${build.result").ok());
  EXPECT_TRUE(CheckMessageTemplate("plain $ text ${prop:x:-y}").ok());
}

TEST(MailMessage, HeadersAndParts) {
  MailMessage m;
  m.from = "Grove <grove@example.org>";
  m.to = {"a@example.org", "b@example.org"};
  m.subject = "résumé: failure\r\nBcc: evil@example.org";
  m.text = "hello\nhttp://ci.example/ui/builds/1\n";
  m.html = TextToHtml("t", m.text);
  m.message_id = "grove.n1.b1.5@example.org";
  m.date_ms = 1767225600000;  // 2026-01-01 00:00:00 UTC, a Thursday
  std::string data = ComposeMail(m);
  EXPECT_THAT(data, HasSubstr("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"));
  EXPECT_THAT(data, HasSubstr("Message-ID: <grove.n1.b1.5@example.org>\r\n"));
  EXPECT_THAT(data, HasSubstr("Subject: =?UTF-8?B?"));
  EXPECT_EQ(data.find("\r\nBcc:"), std::string::npos);  // no header injection
  EXPECT_THAT(data, HasSubstr("multipart/alternative"));
  EXPECT_THAT(data, HasSubstr("Content-Type: text/html; charset=utf-8"));
  EXPECT_THAT(m.html, HasSubstr("<a href=\"http://ci.example/ui/builds/1\">"));
  for (size_t pos = 0, next; pos < data.size(); pos = next + 2) {
    next = data.find("\r\n", pos);
    ASSERT_NE(next, std::string::npos);
    EXPECT_LE(next - pos, 998u);
  }
}

TEST(NotifyCheck, Addresses) {
  EXPECT_TRUE(IsMailAddress("dev@example.org"));
  EXPECT_FALSE(IsMailAddress("dev@"));
  EXPECT_FALSE(IsMailAddress("dev example@x.org"));
  EXPECT_FALSE(IsMailAddress("Dev <dev@example.org>"));
  EXPECT_TRUE(IsMailAddress("Dev <dev@example.org>", true));
  EXPECT_EQ(MailAddressOf("Jane Doe <jane@example.org>"), "jane@example.org");
  EXPECT_EQ(MailAddressOf("jane"), "");
  std::string why;
  EXPECT_TRUE(IsHttpUrl("https://hooks.example.org/a?b=c", &why));
  EXPECT_FALSE(IsHttpUrl("hooks.example.org", &why));
  EXPECT_TRUE(IsIrcChannel("#ci"));
  EXPECT_FALSE(IsIrcChannel("#c i"));
}

TEST(Outbox, StoreQueries) {
  std::unique_ptr<Store> store;
  ASSERT_TRUE(OpenStore("sqlite::memory:", "", &store).ok());
  RequestRecord r;
  r.builder = "b";
  ASSERT_TRUE(store->AddRequest(&r).ok());
  BuildRecord b;
  b.request_id = r.id;
  b.attempt = 1;
  b.builder = "b";
  b.state = "running";
  ASSERT_TRUE(store->StartBuild(&b).ok());
  NotificationRecord n;
  n.build_id = b.id;
  n.notifier = "mail";
  n.kind = "email";
  n.event = "finished";
  ASSERT_TRUE(store->AddNotification(&n).ok());
  EXPECT_GT(n.id, 0);
  NotificationRecord again = n;
  again.id = 0;
  ASSERT_TRUE(store->AddNotification(&again).ok());
  EXPECT_EQ(again.id, 0);  // one notice per build, notifier and event

  std::vector<NotificationRecord> claimed;
  ASSERT_TRUE(store->ClaimNotifications("mail", n.next_at, 10, &claimed).ok());
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].state, "sending");
  EXPECT_EQ(claimed[0].attempts, 1);
  ASSERT_TRUE(store->ClaimNotifications("mail", n.next_at, 10, &claimed).ok());
  EXPECT_TRUE(claimed.empty());  // never handed out twice

  int count = 0;
  ASSERT_TRUE(store->RequeueSendingNotifications(n.next_at + 1, "unknown", &count).ok());
  EXPECT_EQ(count, 1);
  std::vector<int64_t> due;
  ASSERT_TRUE(store->DueNotifications("mail", n.next_at + 1, 10, &due).ok());
  EXPECT_EQ(due, std::vector<int64_t>{n.id});
  ASSERT_TRUE(store->FailNotifications("mail", n.next_at + 2, "removed").ok());
  std::vector<NotificationRecord> list;
  ASSERT_TRUE(store->ListNotifications(b.id, &list).ok());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, "failed");
  EXPECT_EQ(list[0].answer, "removed");
}

}  // namespace
}  // namespace grove::notify
