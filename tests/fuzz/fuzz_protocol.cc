// The worker protocol as the master and the worker read it from the network: a message is
// parsed (ParseUntrusted), then checked as a hello (both brokers' forms), as an event or an
// AMQP batch of events, and as a job (JobFromJson). Nothing may throw or crash; a job that
// parses must survive a round trip through ToJson. The one-pass readers of jobs and events
// (ParseJobsFast, ParseEventsFast) read the raw text: what they take, the checked way must take
// and read alike.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/event_parse.h"
#include "core/job_parse.h"
#include "core/json_fields.h"
#include "core/protocol.h"
#include "core/worker_messages.h"

using namespace grove;

namespace {

std::vector<Json> Elements(const Json& msg) {
  if (msg.is_array()) return {msg.begin(), msg.end()};
  return {msg};
}

void CheckFastReaders(std::string_view text) {
  std::vector<JobSpec> jobs;
  if (ParseJobsFast(text, &jobs)) {
    std::vector<Json> items = Elements(ParseUntrusted(text));
    if (items.size() != jobs.size()) abort();
    for (size_t i = 0; i < items.size(); ++i) {
      JobSpec checked;
      if (!JobFromJson(items[i], &checked).ok() || checked.request_id != jobs[i].request_id ||
          checked.attempt != jobs[i].attempt || checked.steps.size() != jobs[i].steps.size())
        abort();
    }
  }
  std::vector<WorkerEvent> events;
  std::string worker, instance;
  if (ParseEventsFast(text, &events, &worker, &instance)) {
    std::vector<Json> items = Elements(ParseUntrusted(text));
    if (items.size() != events.size()) abort();
    for (size_t i = 0; i < items.size(); ++i)
      if (!CheckEvent(items[i]).ok() || StringOr(items[i], "type") != events[i].type ||
          IntOr(items[i], "request", 0) != events[i].request)
        abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckFastReaders(text);
  Json msg = ParseUntrusted(text);
  if (msg.is_discarded()) return 0;
  (void)msg.dump(-1, ' ', false, Json::error_handler_t::replace);

  WorkerHello hello;
  (void)ParseHello(msg, "name", &hello);
  (void)ParseHello(msg, "worker", &hello);

  for (const Json& ev : Elements(msg)) {
    if (!CheckEvent(ev).ok()) continue;
    // What the controller reads of a checked event.
    (void)StringOr(ev, "type");
    (void)IntOr(ev, "id", -1);
    (void)IntOr(ev, "request", 0);
    (void)IntOr(ev, "step", 0);
    (void)IntOr(ev, "seq", 0);
    (void)StringOr(ev, "data");
    (void)StringOr(ev, "result", "exception");
  }

  JobSpec job;
  if (JobFromJson(msg, &job).ok()) {
    JobSpec again;
    Status st = JobFromJson(ToJson(job), &again);
    if (!st.ok() || again.steps.size() != job.steps.size() || again.request_id != job.request_id)
      abort();  // what the master sends must be what a worker reads
  }
  return 0;
}
