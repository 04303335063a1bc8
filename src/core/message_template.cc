#include "core/message_template.h"

#include <algorithm>

#include "core/interpolate.h"

namespace grove {

namespace {

std::string KnownList() {
  std::string out;
  for (const std::string& f : MessageFields()) out += (out.empty() ? "" : ", ") + f;
  return out + ", prop:NAME";
}

// Calls |piece| for each literal run and |field| for each ${...} body, in order.
template <typename Literal, typename Field>
Status Walk(std::string_view in, Literal literal, Field field) {
  size_t i = 0;
  while (i < in.size()) {
    size_t dollar = in.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(in.substr(i));
      break;
    }
    literal(in.substr(i, dollar - i));
    if (in.substr(dollar, 3) == "$${") {
      literal("${");
      i = dollar + 3;
      continue;
    }
    if (in.substr(dollar, 2) != "${") {
      literal("$");
      i = dollar + 1;
      continue;
    }
    size_t close = in.find('}', dollar + 2);
    if (close == std::string_view::npos)
      return Status::Invalid("unterminated '${' in the message template");
    GROVE_RETURN_IF_ERROR(field(in.substr(dollar + 2, close - dollar - 2)));
    i = close + 1;
  }
  return Status::Ok();
}

Status CheckField(std::string_view body) {
  if (body.substr(0, 5) == "prop:") {
    std::string_view name = body.substr(5);
    if (size_t d = name.find(":-"); d != std::string_view::npos) name = name.substr(0, d);
    if (name.empty()) return Status::Invalid("'${" + std::string(body) + "}' has no property name");
    return Status::Ok();
  }
  const auto& known = MessageFields();
  if (std::find(known.begin(), known.end(), body) == known.end())
    return Status::Invalid("unknown field '${" + std::string(body) +
                           "}' in the message template; known: " + KnownList());
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& MessageFields() {
  static const std::vector<std::string> kFields = {
      "build.id",         "build.builder",     "build.number",   "build.result",
      "build.event",      "build.url",         "build.worker",   "build.reason",
      "build.started_at", "build.finished_at", "build.duration", "build.failing_step",
      "build.log_tail",   "build.changes",     "build.authors",  "build.revision",
      "build.branch",     "build.repository",  "project.name",   "project.url",
  };
  return kFields;
}

Status CheckMessageTemplate(std::string_view text) {
  return Walk(
      text, [](std::string_view) {}, CheckField);
}

Status RenderMessageTemplate(std::string_view text,
                             const std::map<std::string, std::string>& fields,
                             const Json& properties, std::string* out) {
  std::string result;
  result.reserve(text.size() + 256);
  Status st = Walk(
      text, [&](std::string_view s) { result.append(s); },
      [&](std::string_view body) -> Status {
        GROVE_RETURN_IF_ERROR(CheckField(body));
        if (body.substr(0, 5) == "prop:") {
          std::string piece;
          Status ps = Interpolate("${" + std::string(body) + "}", properties, {}, &piece);
          if (!ps.ok()) return Status::NotFound("message template: " + ps.message());
          result.append(piece);
          return Status::Ok();
        }
        auto it = fields.find(std::string(body));
        if (it != fields.end()) result.append(it->second);
        return Status::Ok();
      });
  if (!st.ok()) return st;
  *out = std::move(result);
  return Status::Ok();
}

}  // namespace grove
