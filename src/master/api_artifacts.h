// The artifact and test-result endpoints of the HTTP API (docs/api.md):
//   GET  /api/v1/builds/{id}/artifacts           list (path, size, sha256)
//   GET  /api/v1/builds/{id}/artifacts/{path}    the file (Range: bytes=... supported)
//   PUT  /api/v1/builds/{id}/artifacts/{path}    upload, with "Authorization: Bearer <build token>"
//   POST /api/v1/builds/{id}/artifacts/{path}    the same
//   GET  /api/v1/builds/{id}/tests               JUnit results per step and in total
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/router.h"
#include "store/store.h"

namespace grove {

class ArtifactTokens;
class CoreLoop;
class ReadPool;

struct ArtifactSettings {
  std::string root;                       // <master>/state/artifacts
  int64_t max_bytes = 100 * 1024 * 1024;  // per file
};

void AddArtifactRoutes(http::Router& router, CoreLoop& core, ReadPool& reads,
                       const ArtifactTokens& tokens, ArtifactSettings settings);

// {"passed": .., "failed": .., "skipped": .., "errors": .., "total": ..} over every step.
Json TestTotalsJson(const std::vector<StepTestsRecord>& steps);

// True for the requests that bring their own credentials (a build token), which the user
// authentication (auth.cc) must leave to the handler: artifact uploads.
bool IsArtifactUpload(const http::Request& req);

}  // namespace grove
