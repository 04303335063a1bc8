// What an application asks to run, in the one JSON form every door accepts: the HTTP API
// (POST /api/v1/builders/NAME/force, POST /api/v1/jobs) and, in distributed mode, RabbitMQ's
// grove.submit exchange (docs/protocol.md, "Submitting from another application").
//
//   {"builder": NAME, "properties": {...}, "reason": "..."}   a build
//   {"consumer": NAME, "payload": {...}, "reason": "..."}     a consumer job
//
// Several at once (a batch: one transaction, all stored or none): POST /api/v1/jobs
// {"jobs": [...]} and a grove.submit message that is a JSON array.
#pragma once

#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "master/controller.h"

namespace grove {

// The implicit builder of a consumer (config/api_consume.cc).
inline constexpr char kConsumerBuilderPrefix[] = "consume:";
inline constexpr size_t kMaxSubmission = 1024 * 1024;
// A batch: at most this many submissions, in at most this many bytes (each still within
// kMaxSubmission).
inline constexpr size_t kMaxBatchSubmissions = 1000;
inline constexpr size_t kMaxBatchBytes = 16 * 1024 * 1024;

// Checks |body| against |config| (declared builder parameters get their defaults and checks).
// Invalid or NotFound, with a one-line message naming the problem.
Status ParseSubmission(const Json& body, const Config& config, ForceArgs* out);

// Checks every element of |items| (a JSON array of |whole_size| bytes) as ParseSubmission, and
// the batch's limits. A problem names the first bad element by its 0-based index ("job 3:
// 'payload' ..."), |noun| being what an element is called; nothing is put in |out| then.
// |too_large| (may be null) is set when the problem is a size (the batch's or an element's).
struct BatchProblem {
  bool too_large = false;
};
Status ParseSubmissionBatch(const Json& items, size_t whole_size, const Config& config,
                            const char* noun, std::vector<ForceArgs>* out,
                            BatchProblem* problem = nullptr);

// Applies the force parameters declared on the force schedulers that cover |builder| to
// |properties|: defaults filled in, required ones and choices checked. Invalid → a message.
Status ApplyForceParams(const Config& config, const std::string& builder, Json* properties);

}  // namespace grove
