// The JSON bodies of the HTTP API's POST endpoints, parsed and checked field by field (pure
// functions: no I/O, nothing thrown). A problem is an Invalid status naming the field (400), or
// NotFound for an unknown builder or consumer (404).
#pragma once

#include <string>

#include "config/config.h"
#include "core/status.h"
#include "master/controller.h"

namespace grove {

// POST /api/v1/builders/{builder}/force: {"properties": {...}, "reason": "..."} or empty.
Status ParseForceBody(const std::string& body, const std::string& builder, const Config& config,
                      ForceArgs* out);
// POST /api/v1/jobs: {"consumer": NAME, "payload": ..., "reason": "..."}.
Status ParseJobBody(const std::string& body, const Config& config, ForceArgs* out);
// POST /api/v1/builds/{id}/rebuild: {"reason": "..."} or empty.
Status ParseRebuildBody(const std::string& body, std::string* reason);
// POST /api/v1/trigger: {"target": NAME, "properties": {...}}.
Status ParseTriggerBody(const std::string& body, std::string* target, Json* properties);

}  // namespace grove
