#include "master/api_jobs.h"

#include "master/api_bodies.h"
#include "master/api_util.h"
#include "master/controller.h"
#include "master/submission.h"

namespace grove {

void AddJobRoutes(http::Router& router, Controller& controller, ConfigSource config) {
  // {"consumer": NAME, "payload": {...}, "reason": "..."} -> 201 {"request": ID, "builder": ...}
  router.Add("POST", "/api/v1/jobs",
             [&controller, config](const http::Request& req, http::Responder respond) {
               if (req.body.size() > kMaxSubmission)
                 return respond(http::Response::Error(413, "the job is larger than 1 MiB"));
               ForceArgs args;
               Status st = ParseJobBody(req.body, *config(), &args);
               if (!st.ok()) return respond(ErrorResponse(st));
               std::string builder = args.builder;
               controller.Force(std::move(args), [respond, builder](const Status& st, int64_t id) {
                 if (!st.ok()) return respond(ErrorResponse(st));
                 respond(http::Response::Json(201, {{"request", id}, {"builder", builder}}));
               });
             });
}

}  // namespace grove
