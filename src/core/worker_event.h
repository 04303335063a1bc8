// One event of a worker (docs/protocol.md) as the broker hands it to the master: either its JSON
// tree, or — for the events of a consumer job's usual path, read from an AMQP message in one
// pass (core/event_parse.h) — the fields the master reads, without a tree.
#pragma once

#include <cstdint>
#include <string>

#include "core/protocol.h"

namespace grove {

struct WorkerEvent {
  WorkerEvent() = default;
  // An event as a tree (checked by CheckEvent): its id read from it.
  explicit WorkerEvent(Json ev);

  // The tree when the event came as one; null when its fields below were read without one.
  Json tree;
  int64_t id = -1;  // -1: none (both forms)

  // Read without a tree (tree is null). A field absent or null keeps its default.
  std::string type;
  int64_t request = 0;
  int attempt = 0;
  bool has_step = false;
  int step = 0;
  int64_t log_chunks = 0;
  std::string name;
  std::string result;
  bool has_step_result = false;
  std::string step_result;
  bool has_builddir = false;
  std::string builddir;
  Json properties;   // an object, or null when absent
  Json result_json;  // any value but null, or null when absent
};

}  // namespace grove
