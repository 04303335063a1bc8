#include "http/router.h"

namespace grove::http {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (slash > pos) out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

void Router::Add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back({method, SplitPath(pattern), std::move(handler)});
}

const Handler* Router::Match(Request* req, int* status) const {
  std::vector<std::string> segs = SplitPath(req->path);
  *status = 404;
  for (const Route& route : routes_) {
    std::vector<std::string> params;
    bool matched = true;
    size_t i = 0;
    for (; i < route.segments.size(); ++i) {
      const std::string& want = route.segments[i];
      if (want == "{*}") {
        std::string rest;
        for (size_t j = i; j < segs.size(); ++j) rest += (j > i ? "/" : "") + segs[j];
        params.push_back(rest);
        i = segs.size();
        break;
      }
      if (i >= segs.size()) {
        matched = false;
        break;
      }
      if (want.size() > 1 && want.front() == '{' && want.back() == '}')
        params.push_back(segs[i]);
      else if (want != segs[i]) {
        matched = false;
        break;
      }
    }
    if (!matched || (i < segs.size() && !(route.segments.size() && route.segments.back() == "{*}")))
      continue;
    if (route.method != req->method) {
      *status = 405;
      continue;
    }
    req->params = std::move(params);
    return &route.handler;
  }
  return nullptr;
}

}  // namespace grove::http
