// The master's HTTP request path without sockets: raw bytes through Beast's request parser (as
// the server reads them), the conversion to http::Request, the router with the API's routes,
// and, for the POST endpoints, the JSON body parsers and the webhook receivers.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>

#include "changes/webhooks.h"
#include "http/beast_request.h"
#include "http/router.h"
#include "master/api_bodies.h"

using namespace grove;
namespace bhttp = boost::beast::http;

namespace {

Config MakeConfig() {
  Config c;
  for (const char* name : {"hello", "plain", "consume:c"}) {
    BuilderConfig b;
    b.name = name;
    c.builders.push_back(b);
  }
  ForceSchedulerConfig f;
  f.name = "force";
  f.builders = {"hello"};
  ForceParamConfig branch{"branch", Json("main"), {}, false};
  ForceParamConfig level{"level", Json(), {"1", "2"}, false};
  ForceParamConfig ticket{"ticket", Json(), {}, true};
  f.params = {branch, level, ticket};
  c.force_schedulers.push_back(f);
  return c;
}

http::Router MakeRouter(const Config& config) {
  http::Router r;
  auto ignore = [](const http::Request&, http::Responder) {};
  for (const char* pattern :
       {"/api/v1/builders", "/api/v1/builders/{name}/builds", "/api/v1/builds/{id}",
        "/api/v1/builds/{id}/steps/{n}/log", "/api/v1/requests/{id}", "/api/v1/workers",
        "/api/v1/status", "/api/v1/builds/{id}/artifacts/{*}", "/api/v1/changes", "/ui/{*}"})
    r.Add("GET", pattern, ignore);
  r.Add("POST", "/api/v1/builders/{name}/force",
        [&config](const http::Request& req, http::Responder) {
          ForceArgs args;
          (void)ParseForceBody(req.body, req.params.at(0), config, &args);
        });
  r.Add("POST", "/api/v1/jobs", [&config](const http::Request& req, http::Responder) {
    ForceArgs args;
    (void)ParseJobBody(req.body, config, &args);
    std::vector<ForceArgs> jobs;  // the handler's parse: one job or a batch
    bool batch = false;
    BatchProblem problem;
    (void)ParseJobsBody(req.body, config, &jobs, &batch, &problem);
  });
  r.Add("POST", "/api/v1/builds/{id}/rebuild", [](const http::Request& req, http::Responder) {
    std::string reason;
    (void)ParseRebuildBody(req.body, &reason);
  });
  r.Add("POST", "/api/v1/trigger", [](const http::Request& req, http::Responder) {
    std::string target;
    Json properties;
    (void)ParseTriggerBody(req.body, &target, &properties);
  });
  r.Add("POST", "/api/v1/hooks/{provider}", [](const http::Request& req, http::Responder) {
    (void)ReceiveWebhook(req.params.at(0), "s", req, {"https://example.org/r.git"});
  });
  r.Add("PUT", "/api/v1/builds/{id}/artifacts/{*}", ignore);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Config config = MakeConfig();
  static const http::Router router = MakeRouter(config);
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  boost::asio::const_buffer in(data, size);
  while (in.size() > 0 && !parser.is_done()) {
    size_t used = parser.put(in, ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return 0;
    if (used == 0) break;
    in += used;
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;  // Beast's precondition (the server sees end_of_stream)
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  http::Request req = http::FromBeast(parser.release(), "127.0.0.1");
  (void)req.Header("authorization");
  (void)req.Query("limit");
  int status = 0;
  if (const http::Handler* handler = router.Match(&req, &status))
    (*handler)(req, [](http::Response) {});
  return 0;
}
