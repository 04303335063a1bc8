// Router: maps "METHOD /path/{param}/..." patterns to handlers. Pure logic, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "http/http_types.h"

namespace grove::http {

class Router {
 public:
  // |pattern| segments in braces match one path segment and are passed in Request::params.
  // A trailing "{*}" matches the rest of the path (one param, may contain '/').
  void Add(const std::string& method, const std::string& pattern, Handler handler);

  // Finds the handler for |req| and fills req->params. Sets |status| to 404 (no such path)
  // or 405 (path exists, other method) when none matches.
  const Handler* Match(Request* req, int* status) const;

  // The one place where access is decided (authentication and roles): the server calls it for
  // every routed request before the handler. It may fill req->user/role; an answer it returns
  // is sent instead of running the handler. Without a guard everything is allowed.
  using Guard = std::function<std::optional<Response>(Request*)>;
  void SetGuard(Guard guard) { guard_ = std::move(guard); }
  const Guard& guard() const { return guard_; }
  std::optional<Response> Check(Request* req) const { return guard_ ? guard_(req) : std::nullopt; }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  Guard guard_;
};

std::vector<std::string> SplitPath(const std::string& path);

}  // namespace grove::http
