// Small helpers every API handler file shares: integer parameters and Status → HTTP answers.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "http/http_types.h"

namespace grove {

// A whole decimal number, nothing else ("12", not "12x" or "").
bool ParseInt64(const std::string& s, int64_t* out);
// A row id: a whole decimal number above 0.
bool ParseId(const std::string& s, int64_t* out);

// 404 not found, 400 invalid, 409 conflict, 401 unauthorized, 503 unavailable, else 500.
int HttpStatusOf(const Status& st);
http::Response ErrorResponse(const Status& st);

// Reads the integer query parameter |name| into |out| (|fallback| when absent). A malformed or
// out-of-range value answers 400 through |respond| and returns false.
bool QueryInt(const http::Request& req, const std::string& name, int64_t fallback, int64_t lo,
              int64_t hi, int64_t* out, const http::Responder& respond);

}  // namespace grove
