#include "master/api_util.h"

#include <charconv>

namespace grove {

bool ParseInt64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseId(const std::string& s, int64_t* out) {
  return ParseInt64(s, out) && *out > 0;
}

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kInvalid:
      return 400;
    case Status::Code::kConflict:
      return 409;
    case Status::Code::kUnauthorized:
      return 401;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kIo:
      return 500;
  }
  return 500;
}

http::Response ErrorResponse(const Status& st) {
  return http::Response::Error(HttpStatusOf(st), st.message());
}

bool QueryInt(const http::Request& req, const std::string& name, int64_t fallback, int64_t lo,
              int64_t hi, int64_t* out, const http::Responder& respond) {
  std::string v = req.Query(name);
  if (v.empty()) {
    *out = fallback;
    return true;
  }
  if (!ParseInt64(v, out) || *out < lo || *out > hi) {
    respond(http::Response::Error(400, "invalid '" + name + "' parameter: " + v));
    return false;
  }
  return true;
}

}  // namespace grove
