#include "master/api_jobs.h"

#include "master/api_bodies.h"
#include "master/api_util.h"
#include "master/controller.h"
#include "master/submission.h"

namespace grove {

void AddJobRoutes(http::Router& router, Controller& controller, ConfigSource config) {
  // {"consumer": NAME, "payload": {...}, "reason": "..."} -> 201 {"request": ID, "builder": ...}
  // {"jobs": [{"consumer": ...}, ...]} -> 201 {"requests": [ID, ...]}, in one transaction.
  router.Add("POST", "/api/v1/jobs",
             [&controller, config](const http::Request& req, http::Responder respond) {
               std::vector<ForceArgs> jobs;
               bool batch = false;
               BatchProblem problem;
               Status st = ParseJobsBody(req.body, *config(), &jobs, &batch, &problem);
               if (problem.too_large) return respond(http::Response::Error(413, st.message()));
               if (!st.ok()) return respond(ErrorResponse(st));
               if (batch) {
                 return controller.ForceBatch(
                     std::move(jobs), [respond](const Status& st, std::vector<int64_t> ids) {
                       if (!st.ok()) return respond(ErrorResponse(st));
                       respond(http::Response::Json(201, {{"requests", std::move(ids)}}));
                     });
               }
               std::string builder = jobs.front().builder;
               controller.Force(
                   std::move(jobs.front()), [respond, builder](const Status& st, int64_t id) {
                     if (!st.ok()) return respond(ErrorResponse(st));
                     respond(http::Response::Json(201, {{"request", id}, {"builder", builder}}));
                   });
             });
}

}  // namespace grove
