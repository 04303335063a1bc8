#include "core/job_text.h"

namespace grove {

namespace {

void Append(std::string* out, const Json& j) {
  *out += j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void AppendString(std::string* out, std::string_view s) {
  // Tokens, builder names: printable ASCII that needs no escape is written as it is (what
  // dump writes for it), without a JSON value made and dumped for each.
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return Append(out, Json(s));
  }
  *out += '"';
  *out += s;
  *out += '"';
}

void Key(std::string* out, std::string_view key) {
  if (out->back() != '{') *out += ',';
  *out += '"';
  *out += key;  // the keys below need no escaping
  *out += "\":";
}

}  // namespace

std::string StepsText(const std::vector<StepSpec>& steps) {
  Json arr = Json::array();
  for (const auto& s : steps) arr.push_back(ToJson(s));
  return arr.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string JobText(const JobSpec& job, std::string_view steps_text) {
  std::string out;
  out.reserve(256 + steps_text.size());
  out += '{';
  // In the order of ToJson's object (sorted keys), so the text is the same as its dump.
  if (!job.api_token.empty()) {
    Key(&out, "api_token");
    AppendString(&out, job.api_token);
  }
  Key(&out, "attempt");
  out += std::to_string(job.attempt);
  if (job.build_id) {
    Key(&out, "build");
    out += std::to_string(job.build_id);
  }
  Key(&out, "builder");
  AppendString(&out, job.builder);
  Key(&out, "properties");
  Append(&out, job.properties);
  Key(&out, "request");
  out += std::to_string(job.request_id);
  if (!job.secrets.empty()) {
    Key(&out, "secrets");
    Append(&out, Json(job.secrets));
  }
  Key(&out, "source");
  Append(&out, job.source);
  Key(&out, "steps");
  if (steps_text.empty())
    out += StepsText(job.steps);
  else
    out += steps_text;
  if (!job.token.empty()) {
    Key(&out, "token");
    AppendString(&out, job.token);
  }
  Key(&out, "v");
  out += std::to_string(kProtocolVersion);
  out += '}';
  return out;
}

}  // namespace grove
