// The worker's one-pass read of job messages (core/job_parse.h): what it takes it reads exactly
// as the checked way (ParseUntrusted + JobFromJson per element) would, and everything else —
// anything malformed included — it leaves to the checked way, which refuses it with its message.
#include "core/job_parse.h"

#include <gtest/gtest.h>

#include <random>

#include "core/job_text.h"
#include "core/json_fields.h"

namespace grove {
namespace {

bool Fast(std::string_view body, std::vector<JobSpec>* out = nullptr) {
  std::vector<JobSpec> jobs;
  const bool ok = ParseJobsFast(body, &jobs);
  if (out) *out = std::move(jobs);
  return ok;
}

// The checked way, as the worker ran it before the fast read: true when it takes the message.
bool CheckedTakes(std::string_view body, std::vector<JobSpec>* out) {
  Json msg = ParseUntrusted(body);
  std::vector<Json> raw;
  if (msg.is_array()) {
    for (auto& j : msg) raw.push_back(j);
  } else if (!msg.is_discarded()) {
    raw.push_back(msg);
  }
  if (raw.empty()) return false;
  out->assign(raw.size(), JobSpec());
  for (size_t i = 0; i < raw.size(); ++i)
    if (!JobFromJson(raw[i], &(*out)[i]).ok()) return false;
  return true;
}

void ExpectSameStep(const StepSpec& f, const StepSpec& c) {
  EXPECT_EQ(f.name, c.name);
  EXPECT_EQ(f.type, c.type);
  EXPECT_EQ(f.command, c.command);
  EXPECT_EQ(f.argv, c.argv);
  EXPECT_EQ(f.env, c.env);
  EXPECT_EQ(f.workdir, c.workdir);
  EXPECT_EQ(f.timeout_s, c.timeout_s);
  EXPECT_EQ(f.halt_on_failure, c.halt_on_failure);
  EXPECT_EQ(f.options, c.options);
  // Same JSON types too (an unsigned number stays one, 1.0 stays a float).
  EXPECT_EQ(f.options.dump(), c.options.dump());
}

// What the fast read took equals what the checked way reads of the same message.
void ExpectSameAsChecked(std::string_view body) {
  SCOPED_TRACE(std::string(body));
  std::vector<JobSpec> fast;
  if (!ParseJobsFast(body, &fast)) return;  // left to the checked way
  std::vector<JobSpec> checked;
  ASSERT_TRUE(CheckedTakes(body, &checked)) << "taken by the fast read, refused by the checked way";
  ASSERT_EQ(fast.size(), checked.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    const JobSpec& f = fast[i];
    const JobSpec& c = checked[i];
    EXPECT_EQ(f.request_id, c.request_id);
    EXPECT_EQ(f.attempt, c.attempt);
    EXPECT_EQ(f.builder, c.builder);
    EXPECT_EQ(f.source.dump(), c.source.dump());
    EXPECT_EQ(f.properties.dump(), c.properties.dump());
    EXPECT_EQ(f.secrets, c.secrets);
    EXPECT_EQ(f.build_id, c.build_id);
    EXPECT_EQ(f.token, c.token);
    EXPECT_EQ(f.api_token, c.api_token);
    ASSERT_EQ(f.steps.size(), c.steps.size());
    for (size_t s = 0; s < f.steps.size(); ++s) ExpectSameStep(f.steps[s], c.steps[s]);
  }
}

// A consumer job as the master writes it (core/job_text.h).
std::string ConsumerJob(int64_t request, const Json& payload) {
  JobSpec job;
  job.request_id = request;
  job.attempt = 1;
  job.build_id = request + 100;
  job.builder = "consume:echo";
  job.properties = {{"payload", payload}, {"requested_by", "api"}};
  job.token = "tok-" + std::to_string(request);
  StepSpec step;
  step.name = "echo";
  step.type = "consume";
  step.command = "";
  step.options = {{"consumer", "echo"}, {"payload_property", "payload"}};
  job.steps.push_back(step);
  return JobText(job);
}

TEST(JobParse, ReadsTheMastersConsumerJobsAlone_AndInAnArray) {
  const std::string one = ConsumerJob(7, {{"n", 7}, {"list", {1, "x", nullptr, 2.5, true}}});
  std::vector<JobSpec> jobs;
  ASSERT_TRUE(Fast(one, &jobs));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].request_id, 7);
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_EQ(jobs[0].build_id, 107);
  EXPECT_EQ(jobs[0].builder, "consume:echo");
  EXPECT_EQ(jobs[0].token, "tok-7");
  EXPECT_EQ(jobs[0].properties["payload"]["n"], 7);
  ASSERT_EQ(jobs[0].steps.size(), 1u);
  EXPECT_EQ(jobs[0].steps[0].type, "consume");
  EXPECT_EQ(jobs[0].steps[0].options["payload_property"], "payload");
  ExpectSameAsChecked(one);

  const std::string many = "[" + one + "," + ConsumerJob(8, "text") + "," + ConsumerJob(9, 5) + "]";
  ASSERT_TRUE(Fast(many, &jobs));
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[2].request_id, 9);
  EXPECT_EQ(jobs[2].properties["payload"], 5);
  ExpectSameAsChecked(many);
}

TEST(JobParse, ReadsEveryFieldAndSkipsUnknownOnes) {
  const char* full =
      R"({"v":1,"request":3,"attempt":2,"builder":"b","build":9,"token":"t","api_token":"a",)"
      R"("source":{"repo":"r","rev":"abc","n":[1,{"x":null}]},"properties":{"p":1,"u":18446744073709551615},)"
      R"("secrets":{"k":"v","k2":""},"future":{"a":[1,{"b":[]}]},"also":[[],[{}]],"f":2.5,"z":null,)"
      R"("steps":[{"name":"s1","type":"shell","argv":["echo","hi"],"env":{"A":"1"},)"
      R"("workdir":"sub","timeout":60,"halt_on_failure":false,"options":{"always_run":true,)"
      R"("decode_rc":{"1":"warnings"}},"later":{"x":[1]}},)"
      R"({"name":"s2","command":"true","options":null,"env":null,"argv":null}]})";
  std::vector<JobSpec> jobs;
  ASSERT_TRUE(Fast(full, &jobs));
  ASSERT_EQ(jobs.size(), 1u);
  const JobSpec& j = jobs[0];
  EXPECT_EQ(j.attempt, 2);
  EXPECT_EQ(j.api_token, "a");
  EXPECT_EQ(j.secrets.at("k"), "v");
  EXPECT_EQ(j.source["rev"], "abc");
  ASSERT_EQ(j.steps.size(), 2u);
  EXPECT_EQ(j.steps[0].argv, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ(j.steps[0].env.at("A"), "1");
  EXPECT_EQ(j.steps[0].timeout_s, 60);
  EXPECT_FALSE(j.steps[0].halt_on_failure);
  EXPECT_EQ(j.steps[1].type, "shell");
  EXPECT_EQ(j.steps[1].options, Json::object());
  ExpectSameAsChecked(full);
}

TEST(JobParse, LeavesEverythingElseToTheCheckedWay) {
  const std::string steps = R"("steps":[{"command":"true"}])";
  auto job = [&](const std::string& fields) {
    return R"({"v":1,"request":1,)" + steps + (fields.empty() ? "" : "," + fields) + "}";
  };
  auto step = [](const std::string& fields) {
    return R"({"v":1,"request":1,"steps":[{"command":"true",)" + fields + "}]}";
  };
  const std::vector<std::string> others = {
      // Malformed: refused by the checked way with its message.
      R"({"request":1,"steps":[]})",            // no version
      R"({"v":2,"request":1,"steps":[]})",      // another version
      R"({"v":null,"request":1,"steps":[]})",   //
      R"({"v":"1","request":1,"steps":[]})",    //
      R"({"v":1.0,"request":1,"steps":[]})",    //
      R"({"v":1,"steps":[]})",                  // no request
      R"({"v":1,"request":null,"steps":[]})",   //
      R"({"v":1,"request":1})",                 // no steps
      R"({"v":1,"request":1,"steps":null})",    //
      R"({"v":1,"request":1,"steps":{}})",      //
      R"({"v":1,"request":1,"steps":[5]})",     //
      R"({"v":1,"request":1,"steps":[null]})",  //
      R"({"v":1,"request":1,"steps":[[]]})",    //
      R"({"v":1,"request":1,"steps":[{}]})",    // a shell step without a command
      job(R"("request":2)"),                    // a field twice
      R"({"v":1,"request":-1,"steps":[]})",     //
      R"({"v":1,"request":"1","steps":[]})",    //
      R"({"v":1,"request":18446744073709551615,"steps":[]})",
      job(R"("attempt":-1)"),
      job(R"("attempt":2147483648)"),
      job(R"("attempt":"1")"),
      job(R"("builder":5)"),
      job(R"("builder":{})"),
      job(R"("source":[])"),
      job(R"("source":"s")"),
      job(R"("properties":[1])"),
      job(R"("properties":true)"),
      job(R"("secrets":{"a":1})"),
      job(R"("secrets":{"a":null})"),
      job(R"("secrets":{"a":{}})"),
      job(R"("secrets":[])"),
      job(R"("secrets":"x")"),
      job(R"("build":-5)"),
      job(R"("build":1.5)"),
      job(R"("token":7)"),
      job(R"("api_token":[])"),
      step(R"("name":5)"),
      step(R"("type":null,"type":"shell")"),
      step(R"("argv":"echo")"),
      step(R"("argv":[1])"),
      step(R"("argv":[null])"),
      step(R"("argv":[[]])"),
      step(R"("argv":[{}])"),
      step(R"("env":{"A":1})"),
      step(R"("env":[])"),
      step(R"("workdir":false)"),
      step(R"("timeout":-1)"),
      step(R"("timeout":2147483648)"),
      step(R"("timeout":"5")"),
      step(R"("halt_on_failure":1)"),
      step(R"("options":[])"),
      step(R"("options":{"always_run":"yes"})"),  // the shared options' checks
      step(R"("options":{"max_output":-1})"),
      step(R"("options":{"decode_rc":{"1":2}})"),
      "{not json",
      job("") + " trailing",
      job(R"("builder":"\xff")"),  // not UTF-8
      "[]",
      "[1]",
      "[" + job("") + ",1]",
      "[" + job("") + ",null]",
      "[" + job("") + ",[]]",
      "[[" + job("") + "]]",
      R"("job")",
      "5",
      "null",
      "",
  };
  for (const std::string& body : others) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(Fast(body));
    ExpectSameAsChecked(body);
  }
  // Nested deeper than the limit, in an unknown field, in properties, in a step's options.
  std::string deep;
  for (int i = 0; i < kMaxJsonDepth; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < kMaxJsonDepth; ++i) deep += "}";
  for (const std::string& body : {job(R"("x":)" + deep), job(R"("properties":)" + deep),
                                  step(R"("options":{"x":)" + deep + "}")}) {
    EXPECT_FALSE(Fast(body));
    EXPECT_TRUE(ParseUntrusted(body).is_discarded());
  }
  // The checked way names the problem; the fast read left it to it.
  std::vector<JobSpec> jobs;
  Status st = JobsFromText(job(R"("attempt":"1")"), &jobs);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'attempt' must be an integer"), std::string::npos) << st.message();
  st = JobsFromText(R"({"v":2,"request":1,"steps":[]})", &jobs);
  EXPECT_NE(st.message().find("unsupported job protocol version 2"), std::string::npos);
  EXPECT_FALSE(JobsFromText("[]", &jobs).ok());
  EXPECT_FALSE(JobsFromText("{", &jobs).ok());
  // What only the checked way takes is still taken (a field twice: the last one counts).
  ASSERT_TRUE(JobsFromText(job(R"("builder":"a","builder":"b")"), &jobs).ok());
  EXPECT_EQ(jobs.at(0).builder, "b");
}

// Random jobs built from the fields of docs/protocol.md, some with fields of the wrong type,
// some with garbage or cuts in the text: whatever the fast read takes, it reads as the checked
// way does, and it takes the well-formed ones without a field twice.
TEST(JobParse, AgreesWithTheCheckedWayOnRandomMessages) {
  std::mt19937 rng(14);
  const std::vector<std::string> job_keys = {"v",      "request",    "attempt", "builder",
                                             "source", "properties", "secrets", "build",
                                             "token",  "api_token",  "steps",   "other"};
  const std::vector<std::string> step_keys = {"name",    "type",    "command", "argv",
                                              "env",     "workdir", "timeout", "halt_on_failure",
                                              "options", "other"};
  const std::vector<Json> values = {"consume",
                                    "shell",
                                    "",
                                    0,
                                    1,
                                    42,
                                    -1,
                                    2147483648LL,
                                    1.5,
                                    true,
                                    nullptr,
                                    Json::object(),
                                    Json{{"k", "v"}, {"n", Json::array({1, "x"})}},
                                    Json{{"always_run", "no"}},
                                    Json::array({"a", "b"}),
                                    Json::array({1, 2}),
                                    Json::parse("18446744073709551615")};
  auto right = [&](const std::string& k) -> Json {
    if (k == "v") return 1;
    if (k == "request" || k == "build" || k == "attempt" || k == "timeout")
      return static_cast<int64_t>(rng() % 1000);
    if (k == "source" || k == "properties") return Json{{"payload", {{"n", rng() % 100}}}};
    if (k == "options") return Json{{"consumer", "echo"}, {"payload_property", "payload"}};
    if (k == "secrets" || k == "env") return Json{{"K", "s" + std::to_string(rng() % 10)}};
    if (k == "argv") return Json::array({"echo", "x"});
    if (k == "halt_on_failure") return rng() % 2 == 0;
    if (k == "other") return values[rng() % values.size()];
    return "s" + std::to_string(rng() % 10);
  };
  int taken = 0, checked_takes = 0;
  for (int round = 0; round < 5000; ++round) {
    Json msg = Json::array();
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      Json job = {{"v", 1}, {"request", i + 1}, {"builder", "consume:echo"}};
      Json steps = Json::array();
      for (int s = 0, ns = static_cast<int>(rng() % 3); s < ns; ++s) {
        Json st = {{"type", "consume"}, {"command", ""}};
        for (int f = 0, nf = static_cast<int>(rng() % 5); f < nf; ++f) {
          const std::string& k = step_keys[rng() % step_keys.size()];
          st[k] = rng() % 5 ? right(k) : values[rng() % values.size()];
        }
        steps.push_back(std::move(st));
      }
      job["steps"] = std::move(steps);
      for (int f = 0, nf = static_cast<int>(rng() % 6); f < nf; ++f) {
        const std::string& k = job_keys[rng() % job_keys.size()];
        if (k == "steps") continue;
        job[k] = rng() % 5 ? right(k) : values[rng() % values.size()];
      }
      msg.push_back(std::move(job));
    }
    std::string body = n == 1 && rng() % 2 ? msg[0].dump() : msg.dump();
    const bool well_formed = rng() % 8 != 0;
    if (!well_formed) {
      // A cut, a byte changed, or a field twice.
      switch (rng() % 3) {
        case 0:
          body.resize(rng() % body.size());
          break;
        case 1:
          body[rng() % body.size()] = "{}[],:\"x1 \\"[rng() % 11];
          break;
        default:
          if (body.front() == '{') body.insert(1, R"("request":5,)");
          break;
      }
    }
    ExpectSameAsChecked(body);
    std::vector<JobSpec> checked;
    if (CheckedTakes(body, &checked)) {
      ++checked_takes;
      if (well_formed) {
        EXPECT_TRUE(Fast(body)) << body;
        ++taken;
      }
    }
  }
  EXPECT_GT(taken, 1000);
  EXPECT_GT(checked_takes, taken);  // some malformed texts are still JSON the checked way takes
}

}  // namespace
}  // namespace grove
