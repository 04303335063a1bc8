#include "master/api_json.h"

namespace grove {

namespace {
Json ResultJson(int r) {
  return r < 0 ? Json(nullptr) : Json(std::string(ResultName(static_cast<Result>(r))));
}
Json TimeJson(int64_t ms) {
  return ms ? Json(ms) : Json(nullptr);
}
}  // namespace

Json BuildJson(const BuildRecord& b) {
  return {{"id", b.id},
          {"request", b.request_id},
          {"attempt", b.attempt},
          {"builder", b.builder},
          {"number", b.number},
          {"worker", b.worker},
          {"state", b.state},
          {"result", ResultJson(b.result)},
          {"started_at", TimeJson(b.started_at)},
          {"finished_at", TimeJson(b.finished_at)},
          {"properties", b.properties}};
}

Json BuildSummaryJson(const BuildRecord& b) {
  return {{"id", b.id},
          {"number", b.number},
          {"state", b.state},
          {"result", ResultJson(b.result)},
          {"started_at", TimeJson(b.started_at)},
          {"finished_at", TimeJson(b.finished_at)}};
}

Json StepJson(const StepRecord& s) {
  Json j = {{"number", s.idx},
            {"name", s.name},
            {"state", s.state},
            {"result", ResultJson(s.result)},
            {"started_at", TimeJson(s.started_at)},
            {"finished_at", TimeJson(s.finished_at)},
            {"log_bytes", s.log_bytes},
            {"log_lines", s.log_lines}};
  if (!s.result_json.is_null()) j["result_json"] = s.result_json;
  return j;
}

Json RequestJson(const RequestRecord& r) {
  return {{"id", r.id},
          {"builder", r.builder},
          {"reason", r.reason},
          {"state", r.state},
          {"attempt", r.attempt},
          {"priority", r.priority},
          {"result", ResultJson(r.result)},
          {"submitted_at", TimeJson(r.submitted_at)},
          {"claimed_at", TimeJson(r.claimed_at)},
          {"finished_at", TimeJson(r.finished_at)},
          {"properties", r.properties},
          {"source", r.source}};
}

}  // namespace grove
