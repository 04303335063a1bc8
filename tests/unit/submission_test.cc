// Tests for the parsing of submissions in batches (POST /api/v1/jobs {"jobs": [...]}, a
// grove.submit array) and of grove publish --payloads-file: pure functions, no master.
#include "master/submission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "../../cli/payload_lines.h"
#include "master/api_bodies.h"

namespace grove {
namespace {

using ::testing::HasSubstr;

Config TwoBuilders() {
  Config c;
  BuilderConfig echo;
  echo.name = "consume:echo";
  c.builders.push_back(echo);
  BuilderConfig b;
  b.name = "b";
  c.builders.push_back(b);
  return c;
}

TEST(JobsBodyTest, OneJobIsNotABatch) {
  std::vector<ForceArgs> jobs;
  bool batch = true;
  BatchProblem problem;
  Status st = ParseJobsBody(R"({"consumer": "echo", "payload": {"n": 1}})", TwoBuilders(), &jobs,
                            &batch, &problem);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(batch);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].builder, "consume:echo");
  EXPECT_EQ(jobs[0].properties["payload"]["n"], 1);
}

TEST(JobsBodyTest, ABatchKeepsItsOrder) {
  std::vector<ForceArgs> jobs;
  bool batch = false;
  BatchProblem problem;
  Status st = ParseJobsBody(
      R"({"jobs": [{"consumer": "echo", "payload": 1}, {"consumer": "echo", "payload": 2,
          "reason": "r"}]})",
      TwoBuilders(), &jobs, &batch, &problem);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(batch);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].properties["payload"], 1);
  EXPECT_EQ(jobs[1].properties["payload"], 2);
  EXPECT_EQ(jobs[1].reason, "r");
}

TEST(JobsBodyTest, ABadJobIsNamedByItsIndex) {
  const Config config = TwoBuilders();
  auto problem_of = [&](const std::string& body) {
    std::vector<ForceArgs> jobs;
    bool batch = false;
    BatchProblem problem;
    Status st = ParseJobsBody(body, config, &jobs, &batch, &problem);
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(problem.too_large);
    EXPECT_TRUE(jobs.empty());
    return st;
  };
  Status st = problem_of(R"({"jobs": [{"consumer": "echo"}, {"consumer": "echo", "reason": 5}]})");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_THAT(st.message(), HasSubstr("job 1: 'reason' must be a string"));
  st =
      problem_of(R"({"jobs": [{"consumer": "echo"}, {"consumer": "echo"}, {"consumer": "nope"}]})");
  EXPECT_TRUE(st.IsNotFound());
  EXPECT_THAT(st.message(), HasSubstr("job 2: no consumer 'nope'"));
  EXPECT_THAT(problem_of(R"({"jobs": [{"consumer": "echo"}, {"builder": "b"}]})").message(),
              HasSubstr("job 1: 'consumer' is missing"));
  EXPECT_THAT(problem_of(R"({"jobs": [{"consumer": "echo"}, 7]})").message(),
              HasSubstr("job 1: a submission must be a JSON object"));
  EXPECT_THAT(problem_of(R"({"jobs": {"consumer": "echo"}})").message(),
              HasSubstr("'jobs' must be an array"));
  EXPECT_THAT(problem_of(R"({"jobs": []})").message(), HasSubstr("1 to 1000 jobs, not 0"));
  EXPECT_THAT(problem_of(R"({"jobs": [{"consumer": "echo"}], "consumer": "echo"})").message(),
              HasSubstr("nothing else"));
}

TEST(JobsBodyTest, LimitsAreTooLarge) {
  const Config config = TwoBuilders();
  std::vector<ForceArgs> jobs;
  bool batch = false;
  const std::string big(kMaxSubmission, 'x');
  {
    BatchProblem problem;
    Status st = ParseJobsBody(R"({"consumer": "echo", "payload": ")" + big + "\"}", config, &jobs,
                              &batch, &problem);
    EXPECT_TRUE(problem.too_large);
    EXPECT_THAT(st.message(), HasSubstr("larger than 1 MiB"));
  }
  {
    // Small jobs and one above 1 MiB, in a batch of less than 16 MiB.
    BatchProblem problem;
    Status st = ParseJobsBody(
        R"({"jobs": [{"consumer": "echo"}, {"consumer": "echo", "payload": ")" + big + "\"}]}",
        config, &jobs, &batch, &problem);
    EXPECT_TRUE(problem.too_large);
    EXPECT_THAT(st.message(), HasSubstr("job 1 is larger than 1 MiB"));
  }
  {
    BatchProblem problem;
    std::string body = R"({"jobs": [)";
    for (size_t i = 0; i < kMaxBatchSubmissions + 1; ++i) body += R"({"consumer": "echo"},)";
    body.back() = ']';
    body += "}";
    Status st = ParseJobsBody(body, config, &jobs, &batch, &problem);
    EXPECT_FALSE(problem.too_large);
    EXPECT_THAT(st.message(), HasSubstr("1 to 1000 jobs, not 1001"));
  }
  {
    BatchProblem problem;
    Status st =
        ParseJobsBody(std::string(kMaxBatchBytes + 1, ' '), config, &jobs, &batch, &problem);
    EXPECT_TRUE(problem.too_large);
  }
}

TEST(SubmissionBatchTest, BuildsAndJobsMayMix) {
  std::vector<ForceArgs> out;
  Status st = ParseSubmissionBatch(
      Json::parse(R"([{"builder": "b", "properties": {"x": 1}}, {"consumer": "echo"}])"), 0,
      TwoBuilders(), "submission", &out);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].builder, "b");
  EXPECT_EQ(out[0].properties["x"], 1);
  EXPECT_EQ(out[1].builder, "consume:echo");
  st = ParseSubmissionBatch(Json::parse(R"([{"builder": "b"}, {"builder": "c"}])"), 0,
                            TwoBuilders(), "submission", &out);
  EXPECT_THAT(st.message(), HasSubstr("submission 1: no such builder: c"));
}

TEST(PayloadLinesTest, OneJobPerLineBlankLinesSkipped) {
  std::istringstream in("{\"n\": 1}\n\n  \n[1, 2]\n\"text\"\n");
  std::vector<std::string> jobs;
  Status st = ReadPayloadLines(in, "echo", "why", &jobs);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(Json::parse(jobs[0]),
            Json::parse(R"({"consumer": "echo", "payload": {"n": 1}, "reason": "why"})"));
  EXPECT_EQ(Json::parse(jobs[1])["payload"], Json::parse("[1, 2]"));
  EXPECT_EQ(Json::parse(jobs[2])["payload"], "text");
}

TEST(PayloadLinesTest, ABadLineIsNamed) {
  std::istringstream in("{\"n\": 1}\n\n{\"n\": \n");
  std::vector<std::string> jobs;
  Status st = ReadPayloadLines(in, "echo", "", &jobs);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_EQ(st.message(), "line 3: not valid JSON");
  EXPECT_TRUE(jobs.empty());
}

TEST(PayloadLinesTest, BatchesRespectCountAndBytes) {
  std::vector<std::string> jobs;
  for (int i = 0; i < 7; ++i) jobs.push_back(Json{{"consumer", "e"}, {"payload", i}}.dump());
  std::vector<std::string> bodies = BatchBodies(jobs, 3);
  ASSERT_EQ(bodies.size(), 3u);
  int n = 0;
  for (const std::string& b : bodies) {
    Json j = Json::parse(b);
    for (const Json& job : j["jobs"]) EXPECT_EQ(job["payload"], n++);
  }
  EXPECT_EQ(n, 7);
  // By bytes: each body stays within the limit, at least one job per body.
  const size_t limit = jobs[0].size() * 2 + 12;
  std::vector<std::string> by_bytes = BatchBodies(jobs, 1000, limit);
  ASSERT_EQ(by_bytes.size(), 4u);  // 2 + 2 + 2 + 1
  for (const std::string& b : by_bytes) EXPECT_LE(b.size(), limit);
  EXPECT_EQ(Json::parse(by_bytes[0])["jobs"].size(), 2u);
  EXPECT_TRUE(BatchBodies({}, 10).empty());
}

}  // namespace
}  // namespace grove
