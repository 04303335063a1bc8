// Typed reads of JSON from outside (core/json_fields.h) and the worker protocol's checks
// (core/worker_messages.h, core/protocol.h's JobFromJson): wrong types are statuses naming the
// field, never exceptions.
#include "core/json_fields.h"

#include <gtest/gtest.h>

#include "core/protocol.h"
#include "core/worker_messages.h"

namespace grove {
namespace {

TEST(JsonFields, ReadsTheTypesAskedForAndNamesTheFirstWrongOne) {
  Json j = {{"s", "x"}, {"n", 5}, {"b", true}, {"o", {{"k", "v"}}}, {"l", {"a", "b"}}};
  std::string s;
  int64_t n = 0;
  bool b = false;
  std::vector<std::string> l;
  std::map<std::string, std::string> o;
  JsonFields f(j, "thing");
  f.Str("s", &s).Int("n", &n, 0, 10).Bool("b", &b).StrList("l", &l).StrMap("o", &o);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(s, "x");
  EXPECT_EQ(n, 5);
  EXPECT_TRUE(b);
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(o["k"], "v");

  EXPECT_EQ(JsonFields(j, "thing").Str("n", &s).status().message(),
            "malformed thing: 'n' must be a string, not a number");
  EXPECT_EQ(JsonFields(j, "thing").Int("n", &n, 0, 4).status().message(),
            "malformed thing: 'n' must be between 0 and 4, not 5");
  EXPECT_EQ(JsonFields(j, "thing").Int("s", &n).status().message(),
            "malformed thing: 's' must be an integer, not a string");
  EXPECT_EQ(JsonFields(j, "thing").Str("missing", &s, Need::kRequired).status().message(),
            "malformed thing: 'missing' is missing");
  EXPECT_EQ(JsonFields(Json(5), "thing").status().message(),
            "malformed thing: not a JSON object but a number");
  // Absent and null optional fields leave the default.
  s = "default";
  EXPECT_TRUE(JsonFields({{"s", nullptr}}, "t").Str("s", &s).Str("z", &s).ok());
  EXPECT_EQ(s, "default");
  // 2.0 is not an integer; 2^64 does not fit.
  EXPECT_FALSE(JsonFields(Json::parse(R"({"n": 2.0})"), "t").Int("n", &n).ok());
  EXPECT_FALSE(JsonFields(Json::parse(R"({"n": 18446744073709551615})"), "t").Int("n", &n).ok());
}

TEST(JsonFields, LenientReadsNeverThrow) {
  Json j = {{"s", 5}, {"n", "x"}};
  EXPECT_EQ(StringOr(j, "s", "d"), "d");
  EXPECT_EQ(IntOr(j, "n", 7), 7);
  EXPECT_EQ(IntOr(Json::array(), "n", 7), 7);
  EXPECT_FALSE(BoolOr(j, "b", false));
}

TEST(JsonFields, UntrustedJsonMayNotNestDeep) {
  EXPECT_FALSE(ParseUntrusted(R"({"a": [1, {"b": "[[[["}]})").is_discarded());
  EXPECT_TRUE(ParseUntrusted(std::string(101, '[') + std::string(101, ']')).is_discarded());
  EXPECT_FALSE(ParseUntrusted(std::string(100, '[') + std::string(100, ']')).is_discarded());
  EXPECT_TRUE(ParseUntrusted("{nope").is_discarded());
}

TEST(WorkerMessages, HelloIsParsedOnceWithEveryFieldChecked) {
  WorkerHello h;
  Json hello = Json::parse(R"({"type": "hello", "v": 1, "name": "w1", "secret": "s",
      "capacity": 2, "running": [{"request": 3, "attempt": 1}], "version": "x/1"})");
  ASSERT_TRUE(ParseHello(hello, "name", &h).ok());
  EXPECT_EQ(h.name, "w1");
  EXPECT_EQ(h.capacity, 2);
  ASSERT_EQ(h.running.size(), 1u);
  EXPECT_EQ(h.running[0].request, 3);
  for (const char* bad : {R"({"secret": 1})", R"({"type": 5})", R"({"version": []})",
                          R"({"capacity": "x"})", R"({"name": {}})", R"({"running": "x"})",
                          R"({"running": [{"request": "a", "attempt": 1}]})", R"({"paused": 1})"}) {
    Json msg = hello;
    msg.update(Json::parse(bad));
    WorkerHello out;
    EXPECT_TRUE(ParseHello(msg, "name", &out).IsInvalid()) << bad;
  }
  EXPECT_EQ(ParseHello(Json{{"type", "hello"}, {"name", "w"}}, "worker", &h).message(),
            "malformed hello: 'worker' is missing");
}

TEST(WorkerMessages, EventsAreCheckedBeforeTheControllerSeesThem) {
  EXPECT_TRUE(CheckEvent(Json::parse(R"({"type": "log", "id": 1, "request": 2, "attempt": 1,
      "step": 0, "seq": 3, "data": "x"})"))
                  .ok());
  EXPECT_TRUE(CheckEvent(Json::parse(R"({"type": "step.finished", "result": "success",
      "tests": {"passed": 1, "failures": [{"name": "t", "message": "m"}]},
      "result_json": [1, "any"]})"))
                  .ok());
  for (const char* bad :
       {R"({"type": "log", "id": "seven"})", R"({"type": "log", "step": "x"})",
        R"({"type": "log", "seq": {}})", R"({"type": "log", "data": 5})",
        R"({"type": "job.finished", "result": 7})", R"({"type": "log", "request": "a"})",
        R"({"type": "step.finished", "tests": "x"})",
        R"({"type": "step.finished", "tests": {"failed": "2"}})",
        R"({"type": "step.finished", "tests": {"failures": [{"name": 1}]}})", R"({"type": 5})",
        R"({"id": 1})", R"([1])"}) {
    EXPECT_TRUE(CheckEvent(Json::parse(bad)).IsInvalid()) << bad;
  }
}

TEST(WorkerMessages, JobsWithFieldsOfTheWrongTypeAreRefused) {
  JobSpec job;
  Json ok = Json::parse(R"({"v": 1, "request": 4, "attempt": 1, "builder": "b",
      "steps": [{"name": "s", "type": "shell", "command": "true", "env": {"A": "b"},
                 "options": {"always_run": true, "decode_rc": {"1": "warnings"}}}]})");
  ASSERT_TRUE(JobFromJson(ok, &job).ok());
  EXPECT_EQ(job.steps.size(), 1u);
  for (const char* patch :
       {R"({"request": "4"})", R"({"v": "1"})", R"({"steps": {}})", R"({"secrets": {"a": 1}})",
        R"({"steps": [{"command": 5}]})", R"({"steps": [{"command": "x", "env": {"A": 1}}]})",
        R"({"steps": [{"command": "x", "timeout": -1}]})",
        R"({"steps": [{"command": "x", "options": {"always_run": "yes"}}]})",
        R"({"steps": [{"argv": ["a", 1]}]})", R"({"build": "x"})"}) {
    Json j = ok;
    j.update(Json::parse(patch));
    EXPECT_TRUE(JobFromJson(j, &job).IsInvalid()) << patch;
  }
}

}  // namespace
}  // namespace grove
