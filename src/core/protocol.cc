#include "core/protocol.h"

#include <climits>

#include "core/json_fields.h"

namespace grove {

Json ToJson(const StepSpec& s) {
  Json j = {{"name", s.name},         {"type", s.type},
            {"env", s.env},           {"workdir", s.workdir},
            {"timeout", s.timeout_s}, {"halt_on_failure", s.halt_on_failure}};
  if (s.argv.empty())
    j["command"] = s.command;
  else
    j["argv"] = s.argv;
  if (!s.options.empty()) j["options"] = s.options;
  return j;
}

Json ToJson(const JobSpec& job) {
  Json steps = Json::array();
  for (const auto& s : job.steps) steps.push_back(ToJson(s));
  Json j = {{"v", kProtocolVersion},  {"request", job.request_id}, {"attempt", job.attempt},
            {"builder", job.builder}, {"source", job.source},      {"properties", job.properties},
            {"steps", steps}};
  if (!job.secrets.empty()) j["secrets"] = job.secrets;
  if (job.build_id) j["build"] = job.build_id;
  if (!job.token.empty()) j["token"] = job.token;
  if (!job.api_token.empty()) j["api_token"] = job.api_token;
  return j;
}

Json JobMessage(const JobSpec& job) {
  Json msg = Json::object();
  msg["type"] = "job";
  msg["job"] = ToJson(job);  // moved in, not copied as an initializer list would
  return msg;
}

namespace {

// The options every step type shares (docs/protocol.md); the rest are the step type's.
Status CheckCommonOptions(const Json& options, const std::string& step) {
  JsonFields f(options, "options of step '" + step + "'");
  f.CheckBool("always_run")
      .CheckBool("flunk_on_failure")
      .CheckBool("warn_on_failure")
      .CheckStr("description")
      .CheckInt("max_output", 0, INT64_MAX)
      .StrMap("decode_rc", nullptr);
  return f.status();
}

}  // namespace

Status StepFromJson(const Json& in, StepSpec* out) {
  JsonFields f(in, "step");
  f.Str("name", &out->name)
      .Str("type", &out->type)
      .Str("command", &out->command)
      .StrList("argv", &out->argv)
      .StrMap("env", &out->env)
      .Str("workdir", &out->workdir)
      .Int("timeout", &out->timeout_s, 0, INT32_MAX)  // seconds; more overflows timers
      .Bool("halt_on_failure", &out->halt_on_failure)
      .Object("options", &out->options);
  GROVE_RETURN_IF_ERROR(f.status());
  return CheckStep(*out);
}

Status CheckStep(const StepSpec& step) {
  GROVE_RETURN_IF_ERROR(CheckCommonOptions(step.options, step.name));
  if (step.type == "shell" && step.command.empty() && step.argv.empty())
    return Status::Invalid("shell step '" + step.name + "' has no command");
  return Status::Ok();
}

Status JobFromJson(const Json& in, JobSpec* out) {
  JsonFields f(in, "job");
  int v = 0;
  f.Int("v", &v, INT_MIN, INT_MAX, Need::kRequired);
  if (f.ok() && v != kProtocolVersion)
    return Status::Invalid("unsupported job protocol version " + std::to_string(v));
  Json steps;
  f.Int("request", &out->request_id, 0, INT64_MAX, Need::kRequired)
      .Int("attempt", &out->attempt, 0, INT32_MAX)
      .Str("builder", &out->builder)
      .Object("source", &out->source)
      .Object("properties", &out->properties)
      .StrMap("secrets", &out->secrets)
      .Int("build", &out->build_id, 0, INT64_MAX)
      .Str("token", &out->token)
      .Str("api_token", &out->api_token)
      .Array("steps", &steps, Need::kRequired);
  GROVE_RETURN_IF_ERROR(f.status());
  out->steps.clear();
  for (const auto& s : steps) {
    StepSpec step;
    GROVE_RETURN_IF_ERROR(StepFromJson(s, &step));
    out->steps.push_back(std::move(step));
  }
  return Status::Ok();
}

}  // namespace grove
