#include "core/worker_messages.h"

#include "core/json_fields.h"

namespace grove {

namespace {

// The counts of a step's "tests" report (core/junit.h's ToJson): the API sums them.
Status CheckTests(const Json& tests) {
  JsonFields f(tests, "event: 'tests'");
  for (const char* key : {"passed", "failed", "skipped", "errors", "total"})
    f.CheckInt(key, 0, INT64_MAX);
  Json failures;
  f.Array("failures", &failures);
  if (!f.ok()) return f.status();
  for (const Json& item : failures) {
    JsonFields one(item, "event: a test failure");
    one.CheckStr("name").CheckStr("kind").CheckStr("message");
    if (!one.ok()) return one.status();
  }
  return Status::Ok();
}

}  // namespace

Status ParseHello(const Json& msg, const char* name_field, WorkerHello* out) {
  JsonFields f(msg, "hello");
  std::string type;
  f.Str("type", &type, Need::kRequired);
  if (f.ok() && type != "hello") f.Fail("expected a hello, not '" + type + "'");
  Json running = Json::array();
  f.Str(name_field, &out->name, Need::kRequired)
      .Str("secret", &out->secret)
      .Int("capacity", &out->capacity, 0, 1 << 20)
      .Array("running", &running)
      .Str("version", &out->version)
      .Str("os", &out->os)
      .Str("instance", &out->instance)
      .Bool("paused", &out->paused)
      .CheckInt("v")
      .StrList("tags", nullptr);
  if (f.ok() && out->name.empty()) f.Fail("'" + std::string(name_field) + "' is empty");
  if (!f.ok()) return f.status();
  out->running.clear();
  for (const Json& j : running) {
    RunningJob r;
    JsonFields job(j, "hello: an entry of 'running'");
    job.Int("request", &r.request, 0, INT64_MAX, Need::kRequired)
        .Int("attempt", &r.attempt, 0, INT32_MAX, Need::kRequired);
    if (!job.ok()) return job.status();
    out->running.push_back(r);
  }
  return Status::Ok();
}

Status CheckEvent(const Json& ev) {
  JsonFields f(ev, "event");
  f.CheckStr("type", Need::kRequired)
      .CheckInt("id", 0, INT64_MAX)
      .CheckInt("request", 0, INT64_MAX)
      .CheckInt("attempt", 0, INT32_MAX)
      .CheckInt("step", 0, INT32_MAX)
      .CheckInt("seq", 0, INT64_MAX)
      .CheckStr("data")
      .CheckStr("name")
      .CheckStr("result")
      .CheckStr("step_result")
      .CheckInt("log_chunks", 0, INT64_MAX)
      .CheckStr("builddir")
      .CheckStr("description")
      .CheckObject("properties")
      .CheckObject("tests")
      .CheckStr("worker")
      .CheckStr("instance");
  if (!f.ok()) return f.status();
  if (auto it = ev.find("tests"); it != ev.end() && it->is_object())
    GROVE_RETURN_IF_ERROR(CheckTests(*it));
  return Status::Ok();
}

}  // namespace grove
