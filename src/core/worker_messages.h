// The worker protocol's messages from workers to the master (docs/protocol.md), checked once
// where they enter the master (the embedded broker's WebSocket, the AMQP broker's consumer):
// what passes these checks has every field the master reads of the type it reads, so the
// controller never meets a wrong type. What fails them is refused with the message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

// A job a worker says it still runs: {"request": N, "attempt": N}.
struct RunningJob {
  int64_t request = 0;
  int attempt = 0;
};

struct WorkerHello {
  std::string name;
  std::string secret;
  int capacity = 0;  // 0: as configured on the master
  std::vector<RunningJob> running;
  std::string version;
  std::string os;        // "linux", "windows", ... ("" from workers that do not say)
  std::string instance;  // AMQP: the worker process ("" over the WebSocket)
  std::string remote;    // peer address, for the log (set by the broker)
  bool paused = false;   // AMQP workers remember a pause across a master restart
};

// A hello: {"type": "hello", "v": 1, NAME_FIELD: ..., "secret", "capacity", "running",
// "version", "os"} (+ "instance", "paused", "tags" over AMQP). |name_field| is "name" on the
// WebSocket and "worker" over AMQP. Invalid names the first field of the wrong type.
Status ParseHello(const Json& msg, const char* name_field, WorkerHello* out);

// An event (job.started, step.started, log, step.finished, job.finished, heartbeat, and over
// AMQP hello and bye): an object whose "type" is a string and whose known fields ("id",
// "request", "attempt", "step", "seq", "data", "name", "result", "step_result", "log_chunks",
// "builddir", "description",
// "properties", "tests", "worker", "instance") have their documented types. Unknown fields and
// types pass (the controller ignores them).
Status CheckEvent(const Json& ev);

}  // namespace grove
