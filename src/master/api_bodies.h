// The JSON bodies of the HTTP API's POST endpoints, parsed and checked field by field (pure
// functions: no I/O, nothing thrown). A problem is an Invalid status naming the field (400), or
// NotFound for an unknown builder or consumer (404).
#pragma once

#include <string>

#include "config/config.h"
#include "core/status.h"
#include "master/controller.h"
#include "master/submission.h"

namespace grove {

// POST /api/v1/builders/{builder}/force: {"properties": {...}, "reason": "..."} or empty.
Status ParseForceBody(const std::string& body, const std::string& builder, const Config& config,
                      ForceArgs* out);
// POST /api/v1/jobs: {"consumer": NAME, "payload": ..., "reason": "..."}.
Status ParseJobBody(const std::string& body, const Config& config, ForceArgs* out);
// POST /api/v1/jobs, either form: one job as above (|*batch| false, one element in |out|), or
// {"jobs": [job, ...]} (|*batch| true). Sizes are checked too: a job above 1 MiB or a batch
// above 16 MiB sets |problem->too_large| (413); a bad job of a batch is named by its index.
Status ParseJobsBody(const std::string& body, const Config& config, std::vector<ForceArgs>* out,
                     bool* batch, BatchProblem* problem);
// POST /api/v1/builds/{id}/rebuild: {"reason": "..."} or empty.
Status ParseRebuildBody(const std::string& body, std::string* reason);
// POST /api/v1/trigger: {"target": NAME, "properties": {...}}.
Status ParseTriggerBody(const std::string& body, std::string* target, Json* properties);

}  // namespace grove
