#include "master/api_schedulers.h"

#include "core/log.h"
#include "core/result.h"
#include "master/api_bodies.h"
#include "master/api_json.h"
#include "master/api_util.h"
#include "master/job_token.h"
#include "master/read_pool.h"
#include "master/schedulers.h"
#include "master/webhooks.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

// "Authorization: Bearer TOKEN" with a valid job token.
bool CheckJobToken(const Request& req, const JobTokens& tokens, int64_t* request, int* attempt) {
  std::string authz = req.Header("authorization");
  if (authz.rfind("Bearer ", 0) != 0) return false;
  return tokens.Check(authz.substr(7), request, attempt);
}

class SchedulerApi {
 public:
  SchedulerApi(Schedulers& s, ReadPool& r, const JobTokens& t, ConfigSource c)
      : schedulers_(s), reads_(r), tokens_(t), config_(std::move(c)) {}

  void List(const Request&, Responder respond) {
    schedulers_.Describe([respond](Json j) { respond(Response::Json(200, j)); });
  }

  void Changes(const Request& req, Responder respond) {
    int64_t limit = 50, before = 0;
    std::string l = req.Query("limit"), b = req.Query("before");
    if (!l.empty() && (!ParseInt64(l, &limit) || limit < 1 || limit > 1000))
      return respond(Response::Error(400, "invalid 'limit' parameter: " + l));
    if (!b.empty() && (!ParseInt64(b, &before) || before < 0))
      return respond(Response::Error(400, "invalid 'before' parameter: " + b));
    reads_.Run([limit, before, respond](Store& store) {
      std::vector<ChangeRecord> changes;
      Status st = store.ListChanges(before, static_cast<int>(limit), &changes);
      if (!st.ok()) return respond(ErrorResponse(st));
      Json out = Json::array();
      for (const ChangeRecord& c : changes) out.push_back(ChangeJson(c));
      respond(Response::Json(200, out));
    });
  }

  void Hook(const Request& req, Responder respond) {
    const std::string provider = req.params[0];
    auto config = config_();
    auto it = config->webhooks.secrets.find(provider);
    std::string secret = it == config->webhooks.secrets.end() ? "" : it->second;
    std::vector<std::string> urls;
    for (const GitSourceConfig& g : config->git_sources) urls.push_back(g.url);
    HookOutcome out = ReceiveWebhook(provider, secret, req, urls);
    if (out.status != 200) {
      spdlog::warn("webhook {} from {} refused: {}", provider, req.remote, out.message);
      return respond(Response::Error(out.status, out.message));
    }
    if (out.ping || out.changes.empty())
      return respond(Response::Json(
          200, {{"ok", true}, {"ping", out.ping}, {"message", out.message}, {"changes", 0}}));
    // A delivery or a push seen before is answered 200 (the provider must not retry it),
    // saying so, with nothing recorded.
    std::string delivery = out.delivery;
    std::string head = out.changes.back().branch + " at " + out.changes.back().revision;
    schedulers_.AddHookChanges(
        std::move(out.changes), provider, delivery,
        [respond, delivery, head](Schedulers::HookResult r) {
          if (!r.status.ok()) return respond(ErrorResponse(r.status));
          Json answer = {{"ok", true}, {"changes", r.recorded}, {"duplicate", r.recorded == 0}};
          if (r.duplicate_delivery)
            answer["message"] = "duplicate delivery " + delivery + ": already received";
          else if (r.recorded == 0)
            answer["message"] = "duplicate: " + head + " is already recorded";
          else
            answer["message"] = "recorded " + std::to_string(r.recorded) + " changes";
          respond(Response::Json(200, answer));
        });
  }

  void Trigger(const Request& req, Responder respond) {
    int64_t parent = 0;
    int attempt = 0;
    if (!CheckJobToken(req, tokens_, &parent, &attempt))
      return respond(Response::Error(401, "missing or invalid job token"));
    std::string target;
    Json props;
    if (Status st = ParseTriggerBody(req.body, &target, &props); !st.ok())
      return respond(Response::Error(400, st.message()));
    schedulers_.Trigger(parent, attempt, target, props,
                        [respond](Status st, std::vector<int64_t> ids) {
                          if (!st.ok()) return respond(ErrorResponse(st));
                          respond(Response::Json(201, {{"requests", ids}}));
                        });
  }

  void TriggerRequest(const Request& req, Responder respond) {
    int64_t parent = 0, id = 0;
    int attempt = 0;
    if (!CheckJobToken(req, tokens_, &parent, &attempt))
      return respond(Response::Error(401, "missing or invalid job token"));
    if (!ParseInt64(req.params[0], &id))
      return respond(Response::Error(400, "invalid request id: " + req.params[0]));
    reads_.Run([id, respond](Store& store) {
      RequestRecord r;
      Status st = store.GetRequest(id, &r);
      if (!st.ok()) return respond(ErrorResponse(st));
      Json j = {{"id", r.id}, {"builder", r.builder}, {"state", r.state}, {"result", nullptr}};
      if (r.result >= 0) j["result"] = std::string(ResultName(static_cast<Result>(r.result)));
      std::vector<BuildRecord> builds;
      (void)store.BuildsOfRequest(id, &builds);
      if (!builds.empty()) j["build"] = builds.back().id;
      respond(Response::Json(200, j));
    });
  }

 private:
  Schedulers& schedulers_;
  ReadPool& reads_;
  const JobTokens& tokens_;
  ConfigSource config_;
};

}  // namespace

Json ChangeJson(const ChangeRecord& c) {
  return {{"id", c.id},
          {"source", c.source},
          {"repository", c.repository},
          {"branch", c.branch},
          {"revision", c.revision},
          {"author", c.author},
          {"committed_at", c.committed_at},
          {"comments", c.comments},
          {"files", c.files},
          {"created_at", c.created_at}};
}

void AddSchedulerRoutes(http::Router& router, Schedulers& schedulers, ReadPool& reads,
                        const JobTokens& tokens, ConfigSource config) {
  auto api = std::make_shared<SchedulerApi>(schedulers, reads, tokens, std::move(config));
  auto bind = [api](void (SchedulerApi::*fn)(const Request&, Responder)) {
    return
        [api, fn](const Request& req, Responder respond) { ((*api).*fn)(req, std::move(respond)); };
  };
  router.Add("GET", "/api/v1/schedulers", bind(&SchedulerApi::List));
  router.Add("GET", "/api/v1/changes", bind(&SchedulerApi::Changes));
  router.Add("POST", "/api/v1/hooks/{provider}", bind(&SchedulerApi::Hook));
  router.Add("POST", "/api/v1/trigger", bind(&SchedulerApi::Trigger));
  router.Add("GET", "/api/v1/trigger/requests/{id}", bind(&SchedulerApi::TriggerRequest));
}

}  // namespace grove
