#include "core/protocol.h"

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

Status StepFromJson(const Json& in, StepSpec* out) {
  if (!in.is_object()) return Status::Invalid("step is not an object");
  try {
    out->name = in.value("name", "");
    out->type = in.value("type", "shell");
    out->command = in.value("command", "");
    out->argv = in.value("argv", std::vector<std::string>{});
    out->env = in.value("env", std::map<std::string, std::string>{});
    out->workdir = in.value("workdir", "");
    out->timeout_s = in.value("timeout", int64_t{0});
    out->halt_on_failure = in.value("halt_on_failure", true);
    out->options = in.value("options", Json::object());
  } catch (const Json::exception& e) {
    return Status::Invalid(std::string("malformed step: ") + e.what());
  }
  if (out->type == "shell" && out->command.empty() && out->argv.empty())
    return Status::Invalid("shell step '" + out->name + "' has no command");
  return Status::Ok();
}

Status JobFromJson(const Json& in, JobSpec* out) {
  if (!in.is_object()) return Status::Invalid("job is not an object");
  try {
    if (in.value("v", 0) != kProtocolVersion)
      return Status::Invalid("unsupported job protocol version");
    out->request_id = in.at("request").get<int64_t>();
    out->attempt = in.value("attempt", 1);
    out->builder = in.value("builder", "");
    out->source = in.value("source", Json::object());
    out->properties = in.value("properties", Json::object());
    out->secrets = in.value("secrets", std::map<std::string, std::string>{});
    out->build_id = in.value("build", int64_t{0});
    out->token = in.value("token", "");
    out->api_token = in.value("api_token", "");
    out->steps.clear();
    for (const auto& s : in.at("steps")) {
      StepSpec step;
      GROVE_RETURN_IF_ERROR(StepFromJson(s, &step));
      out->steps.push_back(std::move(step));
    }
  } catch (const Json::exception& e) {
    return Status::Invalid(std::string("malformed job: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace grove
