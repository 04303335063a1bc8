// Unit tests for the small pure pieces of src/core: durations, results, UTF-8 cutting and the
// protocol's JSON.
#include <gtest/gtest.h>

#include "core/duration.h"
#include "core/job_text.h"
#include "core/protocol.h"
#include "core/result.h"
#include "core/utf8.h"

namespace grove {
namespace {

TEST(Duration, ParsesUnitsAndCombinations) {
  std::chrono::seconds s;
  ASSERT_TRUE(ParseDuration("90s", &s).ok());
  EXPECT_EQ(s.count(), 90);
  ASSERT_TRUE(ParseDuration("15m", &s).ok());
  EXPECT_EQ(s.count(), 900);
  ASSERT_TRUE(ParseDuration("12h", &s).ok());
  EXPECT_EQ(s.count(), 43200);
  ASSERT_TRUE(ParseDuration("2d", &s).ok());
  EXPECT_EQ(s.count(), 172800);
  ASSERT_TRUE(ParseDuration("1w", &s).ok());  // retention periods
  EXPECT_EQ(s.count(), 7 * 86400);
  ASSERT_TRUE(ParseDuration("2y", &s).ok());
  EXPECT_EQ(s.count(), 730 * 86400);
  ASSERT_TRUE(ParseDuration("1h30m", &s).ok());
  EXPECT_EQ(s.count(), 5400);
  ASSERT_TRUE(ParseDuration("45", &s).ok());
  EXPECT_EQ(s.count(), 45);
}

TEST(Duration, RejectsWhatIsNotADuration) {
  std::chrono::seconds s;
  for (const char* bad : {"", "h", "12x", "1h30", "-5s", "1.5h", "99999999999d"}) {
    Status st = ParseDuration(bad, &s);
    EXPECT_TRUE(st.IsInvalid()) << bad;
    EXPECT_NE(st.message().find("invalid duration"), std::string::npos) << bad;
  }
}

TEST(Result, NamesRoundTrip) {
  for (int i = 0; i <= 6; ++i) {
    Result r = static_cast<Result>(i);
    EXPECT_EQ(ParseResult(ResultName(r)), r);
  }
  EXPECT_FALSE(ParseResult("great").has_value());
}

TEST(Result, WorstWinsAndSkippedNeverWorsens) {
  EXPECT_EQ(WorseResult(Result::kSuccess, Result::kFailure), Result::kFailure);
  EXPECT_EQ(WorseResult(Result::kWarnings, Result::kSuccess), Result::kWarnings);
  EXPECT_EQ(WorseResult(Result::kFailure, Result::kException), Result::kException);
  EXPECT_EQ(WorseResult(Result::kException, Result::kCancelled), Result::kCancelled);
  EXPECT_EQ(WorseResult(Result::kSuccess, Result::kSkipped), Result::kSuccess);
  EXPECT_EQ(ResultFromExitCode(0), Result::kSuccess);
  EXPECT_EQ(ResultFromExitCode(3), Result::kFailure);
}

TEST(Utf8, HoldsBackOnlyAnIncompleteTail) {
  EXPECT_EQ(Utf8CompletePrefix("abc"), 3u);
  EXPECT_EQ(Utf8CompletePrefix(""), 0u);
  const std::string check = "\xE2\x9C\x93";  // ✓, three bytes
  EXPECT_EQ(Utf8CompletePrefix("a" + check), 4u);
  EXPECT_EQ(Utf8CompletePrefix("a" + check.substr(0, 2)), 1u);
  EXPECT_EQ(Utf8CompletePrefix("a" + check.substr(0, 1)), 1u);
  const std::string emoji = "\xF0\x9F\x8C\xB3";  // four bytes
  EXPECT_EQ(Utf8CompletePrefix("ab" + emoji.substr(0, 3)), 2u);
  EXPECT_EQ(Utf8CompletePrefix("ab" + emoji), 6u);
  EXPECT_EQ(Utf8CompletePrefix("\xC3\xA9"), 2u);  // é
}

TEST(Protocol, JobRoundTrips) {
  JobSpec job;
  job.request_id = 42;
  job.attempt = 2;
  job.builder = "release";
  job.properties = {{"branch", "main"}};
  StepSpec a;
  a.name = "build";
  a.command = "make";
  a.env = {{"CC", "gcc"}};
  a.timeout_s = 60;
  StepSpec b;
  b.name = "test";
  b.argv = {"ctest", "-j2"};
  b.halt_on_failure = false;
  job.steps = {a, b};
  JobSpec back;
  ASSERT_TRUE(JobFromJson(Json::parse(ToJson(job).dump()), &back).ok());
  EXPECT_EQ(back.request_id, 42);
  EXPECT_EQ(back.attempt, 2);
  EXPECT_EQ(back.builder, "release");
  EXPECT_EQ(back.properties["branch"], "main");
  ASSERT_EQ(back.steps.size(), 2u);
  EXPECT_EQ(back.steps[0].command, "make");
  EXPECT_EQ(back.steps[0].env.at("CC"), "gcc");
  EXPECT_EQ(back.steps[0].timeout_s, 60);
  EXPECT_EQ(back.steps[1].argv, (std::vector<std::string>{"ctest", "-j2"}));
  EXPECT_FALSE(back.steps[1].halt_on_failure);
}

// The job's text written directly is ToJson's dump, byte for byte: optional fields present or
// not, strings that need escaping, the steps' text made apart (once per builder).
TEST(Protocol, JobTextIsTheDumpOfToJson) {
  JobSpec job;
  job.request_id = 7;
  job.builder = "consume:echo";
  job.properties = {{"payload", {{"n", 1}, {"s", "tab\t \"quoted\" \u00e9"}}}, {"buildid", 3}};
  StepSpec s;
  s.name = "consume";
  s.type = "consume";
  s.options = {{"consumer", "echo"}};
  job.steps = {s};
  EXPECT_EQ(JobText(job), ToJson(job).dump());
  EXPECT_EQ(JobText(job, StepsText(job.steps)), ToJson(job).dump());
  job.build_id = 3;
  job.token = "t\"ok";
  job.api_token = "a\\b";
  job.secrets = {{"pw", "p\nq"}};
  job.source = {{"branch", "main"}};
  EXPECT_EQ(JobText(job, StepsText(job.steps)), ToJson(job).dump());
  job.builder = std::string("bad \xff utf-8");  // replaced, never thrown
  EXPECT_EQ(JobText(job), ToJson(job).dump(-1, ' ', false, Json::error_handler_t::replace));
}

// Plain strings are written as they are, the others through the JSON dump: every byte value
// in a string gives the dump's text.
TEST(Protocol, JobTextStringsMatchTheDumpForEveryByte) {
  JobSpec job;
  job.request_id = 1;
  for (int c = 0; c < 256; ++c) {
    job.builder = std::string("b") + static_cast<char>(c) + "e";
    job.api_token = std::string(1, static_cast<char>(c));
    EXPECT_EQ(JobText(job), ToJson(job).dump(-1, ' ', false, Json::error_handler_t::replace))
        << "byte " << c;
  }
}

TEST(Protocol, RejectsMalformedJobs) {
  JobSpec out;
  EXPECT_FALSE(JobFromJson(Json::array(), &out).ok());
  EXPECT_FALSE(JobFromJson(Json{{"v", 99}, {"request", 1}, {"steps", Json::array()}}, &out).ok());
  EXPECT_FALSE(JobFromJson(Json{{"v", 1}, {"steps", Json::array()}}, &out).ok());  // no request
  Json no_command = {{"v", 1}, {"request", 1}, {"steps", {{{"name", "x"}, {"type", "shell"}}}}};
  EXPECT_FALSE(JobFromJson(no_command, &out).ok());
  Json wrong_type = {{"v", 1}, {"request", "one"}, {"steps", Json::array()}};
  EXPECT_FALSE(JobFromJson(wrong_type, &out).ok());
}

}  // namespace
}  // namespace grove
