// The worker protocol as the master and the worker read it from the network: a message is
// parsed (ParseUntrusted), then checked as a hello (both brokers' forms), as an event or an
// AMQP batch of events, and as a job (JobFromJson). Nothing may throw or crash; a job that
// parses must survive a round trip through ToJson.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json_fields.h"
#include "core/protocol.h"
#include "core/worker_messages.h"

using namespace grove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Json msg = ParseUntrusted(std::string_view(reinterpret_cast<const char*>(data), size));
  if (msg.is_discarded()) return 0;
  (void)msg.dump(-1, ' ', false, Json::error_handler_t::replace);

  WorkerHello hello;
  (void)ParseHello(msg, "name", &hello);
  (void)ParseHello(msg, "worker", &hello);

  std::vector<Json> events;
  if (msg.is_array())
    events.assign(msg.begin(), msg.end());
  else
    events.push_back(msg);
  for (const Json& ev : events) {
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
