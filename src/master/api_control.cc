#include "master/api_control.h"

#include <charconv>

#include "core/log.h"
#include "master/api_bodies.h"
#include "master/api_builders.h"
#include "master/api_json.h"
#include "master/api_util.h"
#include "master/controller.h"
#include "master/event_hub.h"
#include "master/read_pool.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

Response FromStatus(const Status& st) {
  return ErrorResponse(st);
}

// Answers {"ok": true} (or |extra|) once the controller reports success.
std::function<void(Status)> Done(Responder respond) {
  return [respond](Status st) {
    if (!st.ok()) return respond(FromStatus(st));
    respond(Response::Json(200, {{"ok", true}}));
  };
}

std::string AuditName(const Request& req) {
  return req.user.empty() ? "anonymous (" + req.remote + ")" : req.user;
}

}  // namespace

void AddControlRoutes(http::Router& router, Controller& controller, ReadPool& reads, EventHub& hub,
                      ConfigSource config) {
  AddBuildersRoute(router, reads, hub, config);
  router.Add("GET", "/api/v1/events", [&hub](const Request&, Responder respond) {
    Response r;
    r.content_type = "text/event-stream";
    r.headers["X-Accel-Buffering"] = "no";
    r.on_stream = [&hub](std::shared_ptr<http::StreamSink> sink) { hub.Subscribe(sink); };
    respond(std::move(r));
  });

  router.Add("GET", "/api/v1/running", [&reads](const Request&, Responder respond) {
    reads.Run([respond](Store& store) {
      std::vector<BuildRecord> running;
      Status st = store.RunningBuilds(&running);
      if (!st.ok()) return respond(FromStatus(st));
      Json out = Json::array();
      for (const auto& b : running) {
        Json j = BuildSummaryJson(b);
        j["builder"] = b.builder;
        j["worker"] = b.worker;
        out.push_back(j);
      }
      respond(Response::Json(200, out));
    });
  });

  router.Add("GET", "/api/v1/builders/{name}/requests",
             [&reads, config](const Request& req, Responder respond) {
               std::string name = req.params[0];
               if (!config()->FindBuilder(name))
                 return respond(Response::Error(404, "no such builder: " + name));
               reads.Run([name, respond](Store& store) {
                 std::vector<RequestRecord> queued;
                 Status st = store.ListRequests("queued", 100000, &queued);
                 if (!st.ok()) return respond(FromStatus(st));
                 Json out = Json::array();
                 for (const auto& r : queued)
                   if (r.builder == name && out.size() < 200) out.push_back(RequestJson(r));
                 respond(Response::Json(200, out));
               });
             });

  router.Add("POST", "/api/v1/requests/{id}/cancel",
             [&controller](const Request& req, Responder respond) {
               int64_t id;
               if (!ParseId(req.params[0], &id))
                 return respond(Response::Error(400, "invalid request id: " + req.params[0]));
               spdlog::info("{} cancels request {}", AuditName(req), id);
               controller.CancelRequest(id, Done(std::move(respond)));
             });

  router.Add("POST", "/api/v1/builds/{id}/stop",
             [&controller](const Request& req, Responder respond) {
               int64_t id;
               if (!ParseId(req.params[0], &id))
                 return respond(Response::Error(400, "invalid build id: " + req.params[0]));
               spdlog::info("{} stops build {}", AuditName(req), id);
               controller.StopBuild(id, [respond](Status st, const std::string& through) {
                 if (!st.ok()) return respond(FromStatus(st));
                 if (through.empty()) return respond(Response::Json(200, {{"ok", true}}));
                 // Runs through another master, which was asked to stop it: it ends there.
                 respond(Response::Json(202, {{"stopping", true}, {"through", through}}));
               });
             });

  router.Add("POST", "/api/v1/builds/{id}/rebuild",
             [&controller](const Request& req, Responder respond) {
               int64_t id;
               if (!ParseId(req.params[0], &id))
                 return respond(Response::Error(400, "invalid build id: " + req.params[0]));
               std::string reason;
               if (Status st = ParseRebuildBody(req.body, &reason); !st.ok())
                 return respond(Response::Error(400, st.message()));
               spdlog::info("{} rebuilds build {}", AuditName(req), id);
               controller.Rebuild(id, reason, [respond](Status st, int64_t request) {
                 if (!st.ok()) return respond(FromStatus(st));
                 respond(Response::Json(201, {{"request", request}}));
               });
             });

  for (bool pause : {true, false}) {
    router.Add("POST", std::string("/api/v1/workers/{name}/") + (pause ? "pause" : "resume"),
               [&controller, pause](const Request& req, Responder respond) {
                 spdlog::info("{} {} worker {}", AuditName(req), pause ? "pauses" : "resumes",
                              req.params[0]);
                 controller.SetWorkerPaused(req.params[0], pause, Done(std::move(respond)));
               });
  }
}

}  // namespace grove
