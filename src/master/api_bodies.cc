#include "master/api_bodies.h"

#include "core/json_fields.h"
#include "master/submission.h"

namespace grove {

namespace {

Status ParseObject(const std::string& body, Json* out) {
  *out = ParseUntrusted(body);
  if (out->is_discarded() || !out->is_object()) return Status::Invalid("malformed JSON body");
  return Status::Ok();
}

}  // namespace

Status ParseForceBody(const std::string& body, const std::string& builder, const Config& config,
                      ForceArgs* out) {
  Json j = Json::object();
  if (!body.empty()) GROVE_RETURN_IF_ERROR(ParseObject(body, &j));
  if (j.contains("consumer")) return Status::Invalid("'consumer' belongs in POST /api/v1/jobs");
  j["builder"] = builder;
  return ParseSubmission(j, config, out);
}

Status ParseJobBody(const std::string& body, const Config& config, ForceArgs* out) {
  Json j;
  GROVE_RETURN_IF_ERROR(ParseObject(body, &j));
  if (!j.contains("consumer")) return Status::Invalid("'consumer' is missing");
  return ParseSubmission(j, config, out);
}

Status ParseJobsBody(const std::string& body, const Config& config, std::vector<ForceArgs>* out,
                     bool* batch, BatchProblem* problem) {
  *batch = false;
  if (body.size() > kMaxBatchBytes) {
    problem->too_large = true;
    return Status::Invalid("the batch is larger than 16 MiB");
  }
  Json j;
  GROVE_RETURN_IF_ERROR(ParseObject(body, &j));
  if (!j.contains("jobs")) {
    if (body.size() > kMaxSubmission) {
      problem->too_large = true;
      return Status::Invalid("the job is larger than 1 MiB");
    }
    if (!j.contains("consumer")) return Status::Invalid("'consumer' (or 'jobs') is missing");
    out->resize(1);
    return ParseSubmission(j, config, &out->front());
  }
  *batch = true;
  if (j.size() != 1) return Status::Invalid("a batch is {\"jobs\": [...]} and nothing else");
  const Json& jobs = j["jobs"];
  if (!jobs.is_array()) return Status::Invalid("'jobs' must be an array");
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].is_object() && !jobs[i].contains("consumer"))
      return Status::Invalid("job " + std::to_string(i) + ": 'consumer' is missing");
  }
  return ParseSubmissionBatch(jobs, body.size(), config, "job", out, problem);
}

Status ParseRebuildBody(const std::string& body, std::string* reason) {
  if (body.empty()) return Status::Ok();
  Json j;
  GROVE_RETURN_IF_ERROR(ParseObject(body, &j));
  return JsonFields(j, "request body").Str("reason", reason).status();
}

Status ParseTriggerBody(const std::string& body, std::string* target, Json* properties) {
  Json j;
  GROVE_RETURN_IF_ERROR(ParseObject(body, &j));
  *properties = Json::object();
  return JsonFields(j, "request body")
      .Str("target", target, Need::kRequired)
      .Object("properties", properties)
      .status();
}

}  // namespace grove
