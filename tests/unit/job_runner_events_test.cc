// The events a JobRunner sends for a job (docs/protocol.md): the four separate ones per step to a
// master that does not take merged events, and job.started / job.finished carrying the first
// step's start and the last step's end to one that does. Real steps (/bin/true, /bin/false).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "worker/job_runner.h"

namespace grove {
namespace {

class RecordingSink : public EventSink {
 public:
  explicit RecordingSink(bool merges) : merges_(merges) {}
  void Emit(Json ev) override { events.push_back(std::move(ev)); }
  bool Congested() const override { return false; }
  bool MergesEvents() const override { return merges_; }
  // Without the log chunks when |logs| is false (a failing step logs its exit code).
  std::vector<std::string> Types(bool logs = true) {
    if (!logs) std::erase_if(events, [](const Json& e) { return e["type"] == "log"; });
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e["type"].get<std::string>());
    return out;
  }
  std::vector<Json> events;

 private:
  bool merges_;
};

StepSpec Shell(const std::string& name, const std::string& command, bool halt = true) {
  StepSpec s;
  s.name = name;
  s.command = command;
  s.halt_on_failure = halt;
  return s;
}

Result RunJob(const std::vector<StepSpec>& steps, RecordingSink& sink) {
  boost::asio::io_context io;
  JobSpec job;
  job.request_id = 7;
  job.attempt = 1;
  job.builder = "b";
  job.steps = steps;
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("grove-job-runner-test-" + std::to_string(::getpid())))
                              .string();
  Result result = Result::kException;
  JobRunner runner(io, job, dir, sink, [&](JobRunner&, Result r) { result = r; });
  runner.Start();
  io.run();
  std::filesystem::remove_all(dir);
  return result;
}

TEST(JobRunnerEvents, SeparateEventsToAMasterThatDoesNotMerge) {
  RecordingSink sink(false);
  EXPECT_EQ(RunJob({Shell("one", "true")}, sink), Result::kSuccess);
  EXPECT_EQ(sink.Types(), (std::vector<std::string>{"job.started", "step.started", "step.finished",
                                                    "job.finished"}));
  EXPECT_FALSE(sink.events[0].contains("step"));
  EXPECT_FALSE(sink.events[3].contains("step_result"));
}

TEST(JobRunnerEvents, AOneStepJobIsTwoEvents) {
  RecordingSink sink(true);
  EXPECT_EQ(RunJob({Shell("one", "echo hi")}, sink), Result::kSuccess);
  // The log chunk sits between the two: it belongs to the step the first one started.
  ASSERT_EQ(sink.Types(), (std::vector<std::string>{"job.started", "log", "job.finished"}));
  const Json& start = sink.events[0];
  EXPECT_EQ(start["step"], 0);
  EXPECT_EQ(start["name"], "one");
  EXPECT_TRUE(start.contains("builddir"));
  EXPECT_EQ(start["request"], 7);
  const Json& end = sink.events[2];
  EXPECT_EQ(end["step"], 0);
  EXPECT_EQ(end["step_result"], "success");
  EXPECT_EQ(end["result"], "success");
  EXPECT_EQ(end["log_chunks"], 1);
}

TEST(JobRunnerEvents, AFailingLastStepAndTheJobResultAreKeptApart) {
  RecordingSink sink(true);
  StepSpec lenient = Shell("lenient", "false", false);
  lenient.options["flunk_on_failure"] = false;
  EXPECT_EQ(RunJob({Shell("a", "true"), lenient}, sink), Result::kSuccess);
  ASSERT_EQ(sink.Types(false), (std::vector<std::string>{"job.started", "step.finished",
                                                         "step.started", "job.finished"}));
  EXPECT_EQ(sink.events[1]["step"], 0);
  EXPECT_EQ(sink.events[1]["result"], "success");
  EXPECT_EQ(sink.events[2]["step"], 1);
  EXPECT_EQ(sink.events[3]["step"], 1);
  EXPECT_EQ(sink.events[3]["step_result"], "failure");
  EXPECT_EQ(sink.events[3]["result"], "success");  // the job's: the step does not flunk it
}

TEST(JobRunnerEvents, StepsSkippedAfterAHaltEndWithTheStepThatRan) {
  RecordingSink sink(true);
  EXPECT_EQ(RunJob({Shell("a", "false"), Shell("b", "true")}, sink), Result::kFailure);
  ASSERT_EQ(sink.Types(false), (std::vector<std::string>{"job.started", "job.finished"}));
  EXPECT_EQ(sink.events[1]["step"], 0);
  EXPECT_EQ(sink.events[1]["step_result"], "failure");
  EXPECT_EQ(sink.events[1]["result"], "failure");
}

TEST(JobRunnerEvents, AJobWithoutStepsStillStartsAndFinishes) {
  RecordingSink sink(true);
  EXPECT_EQ(RunJob({}, sink), Result::kSuccess);
  ASSERT_EQ(sink.Types(), (std::vector<std::string>{"job.started", "job.finished"}));
  EXPECT_FALSE(sink.events[0].contains("step"));
  EXPECT_FALSE(sink.events[1].contains("step_result"));
}

}  // namespace
}  // namespace grove
