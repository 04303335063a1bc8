// The worker's read of a job message (docs/protocol.md: one job object, or a JSON array of them
// for consumer builders): one pass over the text with nlohmann's SAX interface, straight into
// JobSpec, instead of a JSON tree built, checked by JobFromJson, copied and freed per job (that
// tree was about a fifth of an SDK worker's CPU per consumer job).
#pragma once

#include <string_view>
#include <vector>

#include "core/protocol.h"

namespace grove {

// Reads |body| into |out| when it is a job object or a non-empty array of them, every field of
// docs/protocol.md of the type JobFromJson and StepFromJson check, in range, and no field twice.
// Returns false for anything else — a wrong type, a duplicate field, a version other than
// kProtocolVersion, JSON that does not parse or nests deeper than kMaxJsonDepth — with |out|
// unspecified: the caller then takes the checked way (JobsFromText's), which refuses what is
// malformed with a message naming the problem. It refuses nothing itself, so it cannot refuse
// what the checked way takes, and what it takes it reads as the checked way does.
bool ParseJobsFast(std::string_view body, std::vector<JobSpec>* out);

// The jobs of a job message: ParseJobsFast, else ParseUntrusted and JobFromJson per element,
// whose error is returned (the message is refused whole).
Status JobsFromText(std::string_view body, std::vector<JobSpec>* out);

}  // namespace grove
