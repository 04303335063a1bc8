#include "master/submission.h"

#include <algorithm>

namespace grove {

namespace {

Status OptionalString(const Json& body, const char* key, std::string* out) {
  if (!body.contains(key)) return Status::Ok();
  if (!body[key].is_string()) return Status::Invalid(std::string("'") + key + "' must be a string");
  *out = body[key].get<std::string>();
  return Status::Ok();
}

Status OptionalObject(const Json& body, const char* key, Json* out) {
  if (!body.contains(key)) return Status::Ok();
  if (!body[key].is_object())
    return Status::Invalid(std::string("'") + key + "' must be an object");
  *out = body[key];
  return Status::Ok();
}

}  // namespace

Status ApplyForceParams(const Config& config, const std::string& builder, Json* properties) {
  for (const ForceSchedulerConfig& f : config.force_schedulers) {
    if (std::find(f.builders.begin(), f.builders.end(), builder) == f.builders.end()) continue;
    for (const ForceParamConfig& p : f.params) {
      if (!properties->contains(p.name) || (*properties)[p.name].is_null()) {
        if (!p.default_value.is_null())
          (*properties)[p.name] = p.default_value;
        else if (p.required)
          return Status::Invalid("parameter '" + p.name + "' is required");
        continue;
      }
      const Json& v = (*properties)[p.name];
      if (v.is_object() || v.is_array())
        return Status::Invalid("parameter '" + p.name + "' must be a string, number or boolean");
      if (p.required && v.is_string() && v.get<std::string>().empty())
        return Status::Invalid("parameter '" + p.name + "' is required");
      if (!p.choices.empty()) {
        std::string s = v.is_string() ? v.get<std::string>() : v.dump();
        if (std::find(p.choices.begin(), p.choices.end(), s) == p.choices.end()) {
          std::string list;
          for (const std::string& c : p.choices) list += (list.empty() ? "" : ", ") + c;
          return Status::Invalid("parameter '" + p.name + "' must be one of: " + list);
        }
      }
    }
  }
  return Status::Ok();
}

Status ParseSubmission(const Json& body, const Config& config, ForceArgs* out) {
  if (!body.is_object()) return Status::Invalid("a submission must be a JSON object");
  const bool build = body.contains("builder"), job = body.contains("consumer");
  if (build == job) return Status::Invalid("give exactly one of 'builder' and 'consumer'");
  std::string name;
  GROVE_RETURN_IF_ERROR(OptionalString(body, build ? "builder" : "consumer", &name));
  if (name.empty())
    return Status::Invalid(std::string("'") + (build ? "builder" : "consumer") +
                           "' must be a non-empty string");
  GROVE_RETURN_IF_ERROR(OptionalString(body, "reason", &out->reason));
  if (build) {
    out->builder = name;
    GROVE_RETURN_IF_ERROR(OptionalObject(body, "properties", &out->properties));
    if (!config.FindBuilder(name)) return Status::NotFound("no such builder: " + name);
    return ApplyForceParams(config, name, &out->properties);
  }
  out->builder = kConsumerBuilderPrefix + name;
  if (!config.FindBuilder(out->builder))
    return Status::NotFound("no consumer '" + name +
                            "' is declared in grove.lua (consumer { ... } or schedule.cron "
                            "{ consume = ... })");
  if (out->reason.empty()) out->reason = "job for consumer " + name;
  out->properties = Json::object();
  out->properties["payload"] = body.contains("payload") ? body["payload"] : Json::object();
  return Status::Ok();
}

Status ParseSubmissionBatch(const Json& items, size_t whole_size, const Config& config,
                            const char* noun, std::vector<ForceArgs>* out, BatchProblem* problem) {
  auto too_large = [problem](std::string msg) {
    if (problem) problem->too_large = true;
    return Status::Invalid(std::move(msg));
  };
  if (!items.is_array()) return Status::Invalid(std::string("a batch must be a JSON array"));
  if (whole_size > kMaxBatchBytes) return too_large("the batch is larger than 16 MiB");
  if (items.empty() || items.size() > kMaxBatchSubmissions)
    return Status::Invalid("a batch holds 1 to " + std::to_string(kMaxBatchSubmissions) + " " +
                           noun + "s, not " + std::to_string(items.size()));
  std::vector<ForceArgs> parsed(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = std::string(noun) + " " + std::to_string(i);
    // Only a batch larger than one submission's limit can hold an element above it: the
    // others are not serialized again to be measured.
    if (whole_size > kMaxSubmission && items[i].dump().size() > kMaxSubmission)
      return too_large(where + " is larger than 1 MiB");
    Status st = ParseSubmission(items[i], config, &parsed[i]);
    if (!st.ok()) {
      std::string msg = where + ": " + st.message();
      return st.IsNotFound() ? Status::NotFound(std::move(msg)) : Status::Invalid(std::move(msg));
    }
  }
  *out = std::move(parsed);
  return Status::Ok();
}

}  // namespace grove
