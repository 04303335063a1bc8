// What the controller reads of a worker's event (docs/protocol.md), taken from the checked JSON
// in one pass over its fields: no field looked up twice, no string copied (the views point into
// the event, which outlives them). Merged events are plain events with more fields: a
// job.started with "step" also starts that step, a job.finished with "step_result" also ends
// step "step" (kMergedEventsVersion).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/protocol.h"
#include "core/worker_event.h"

namespace grove {

enum class EventType {
  kUnknown,
  kHeartbeat,
  kJobStarted,
  kStepStarted,
  kLog,
  kStepFinished,
  kJobFinished
};

struct EventView {
  EventType type = EventType::kUnknown;
  std::string_view type_name;
  int64_t request = 0;
  int attempt = 0;
  bool has_step = false;
  int step = 0;
  int64_t seq = 0;
  int64_t log_chunks = 0;
  std::string_view name;
  std::string_view result;  // the step's (step.finished) or the job's (job.finished)
  bool has_step_result = false;
  std::string_view step_result;  // a merged job.finished: its last step's result
  bool has_builddir = false;
  std::string_view builddir;
  std::string_view data;  // a JSON log chunk
  // Fields passed on as JSON (null when absent).
  const Json* properties = nullptr;
  const Json* tests = nullptr;
  const Json* result_json = nullptr;
};

// |ev| passed CheckEvent (core/worker_messages.h); a field of another type is taken as absent.
EventView ReadEvent(const Json& ev);
// The same of an event the broker handed over as a tree or as fields (views into |ev|).
EventView ReadEvent(const WorkerEvent& ev);

}  // namespace grove
