// The master's fast read of a worker's AMQP event message (docs/protocol.md: one event object,
// or an array of events of one worker): one pass over the text with nlohmann's SAX interface,
// each event's fields stored as the master reads them, no JSON tree built, checked and freed
// per event (that tree was about a fifth of the master's CPU per consumer job).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/worker_event.h"

namespace grove {

// Reads |body| into |out| (fields, no tree) when every event in it is one of the usual path of
// a job — job.started, step.started, step.finished, job.finished, heartbeat — all of one worker,
// each field of docs/protocol.md of its type (as CheckEvent checks) and no "tests"; |worker| and
// |instance| are the first event's. Returns false for anything else — a hello or bye, a log
// chunk, a field of the wrong type, a duplicate field, JSON that does not parse or nests deeper
// than kMaxJsonDepth — with |out| unspecified: such a message goes the tree's way (ParseUntrusted,
// CheckEvent), which refuses what is malformed with a message naming the problem. This read
// never refuses anything itself, so it cannot refuse what the tree's way would take.
bool ParseEventsFast(std::string_view body, std::vector<WorkerEvent>* out, std::string* worker,
                     std::string* instance);

}  // namespace grove
