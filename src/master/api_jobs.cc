#include "master/api_jobs.h"

#include "master/api_util.h"
#include "master/controller.h"

namespace grove {

namespace {

// The implicit builder of a consumer (config/api_consume.cc).
constexpr const char* kConsumerBuilderPrefix = "consume:";
constexpr size_t kMaxPayload = 1024 * 1024;

}  // namespace

void AddJobRoutes(http::Router& router, Controller& controller, ConfigSource config) {
  // {"consumer": NAME, "payload": {...}, "reason": "..."} -> 201 {"request": ID, "builder": ...}
  router.Add(
      "POST", "/api/v1/jobs",
      [&controller, config](const http::Request& req, http::Responder respond) {
        if (req.body.size() > kMaxPayload)
          return respond(http::Response::Error(413, "the job is larger than 1 MiB"));
        Json body = Json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
          return respond(http::Response::Error(400, "malformed JSON body"));
        if (!body.contains("consumer") || !body["consumer"].is_string() ||
            body["consumer"].get<std::string>().empty())
          return respond(http::Response::Error(400, "'consumer' must be a non-empty string"));
        if (body.contains("reason") && !body["reason"].is_string())
          return respond(http::Response::Error(400, "'reason' must be a string"));
        std::string consumer = body["consumer"].get<std::string>();
        ForceArgs args;
        args.builder = kConsumerBuilderPrefix + consumer;
        if (!config()->FindBuilder(args.builder))
          return respond(http::Response::Error(
              404, "no consumer '" + consumer +
                       "' is declared in grove.lua (consumer { ... } or schedule.cron "
                       "{ consume = ... })"));
        args.reason = body.value("reason", "job for consumer " + consumer);
        args.properties["payload"] = body.value("payload", Json::object());
        std::string builder = args.builder;
        controller.Force(std::move(args), [respond, builder](const Status& st, int64_t id) {
          if (!st.ok()) return respond(ErrorResponse(st));
          respond(http::Response::Json(201, {{"request", id}, {"builder", builder}}));
        });
      });
}

}  // namespace grove
