// grove publish --payloads-file: JSON Lines (one payload per line) turned into the bodies of
// POST /api/v1/jobs batches ({"jobs": [...]}, docs/api.md). Pure: no I/O beyond |in|.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

// The largest body a batch is cut to: below the master's 16 MiB, with room for the envelope.
inline constexpr size_t kPublishBatchBytes = 15 * 1024 * 1024;

// One job per non-blank line of |in| ({"consumer": ..., "payload": LINE, "reason": ...}),
// serialized. A line that is not JSON, or a job above 1 MiB, is an Invalid status naming the
// line (1-based); nothing is returned then.
Status ReadPayloadLines(std::istream& in, const std::string& consumer, const std::string& reason,
                        std::vector<std::string>* jobs);

// |jobs| (serialized) cut into {"jobs": [...]} bodies of at most |max_jobs| jobs and
// |max_bytes| bytes each, in order.
std::vector<std::string> BatchBodies(const std::vector<std::string>& jobs, size_t max_jobs,
                                     size_t max_bytes = kPublishBatchBytes);

}  // namespace grove
