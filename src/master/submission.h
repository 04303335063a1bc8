// What an application asks to run, in the one JSON form every door accepts: the HTTP API
// (POST /api/v1/builders/NAME/force, POST /api/v1/jobs) and, in distributed mode, RabbitMQ's
// grove.submit exchange (docs/protocol.md, "Submitting from another application").
//
//   {"builder": NAME, "properties": {...}, "reason": "..."}   a build
//   {"consumer": NAME, "payload": {...}, "reason": "..."}     a consumer job
#pragma once

#include "config/config.h"
#include "core/status.h"
#include "master/controller.h"

namespace grove {

// The implicit builder of a consumer (config/api_consume.cc).
inline constexpr char kConsumerBuilderPrefix[] = "consume:";
inline constexpr size_t kMaxSubmission = 1024 * 1024;

// Checks |body| against |config| (declared builder parameters get their defaults and checks).
// Invalid or NotFound, with a one-line message naming the problem.
Status ParseSubmission(const Json& body, const Config& config, ForceArgs* out);

// Applies the force parameters declared on the force schedulers that cover |builder| to
// |properties|: defaults filled in, required ones and choices checked. Invalid → a message.
Status ApplyForceParams(const Config& config, const std::string& builder, Json* properties);

}  // namespace grove
