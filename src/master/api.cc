#include "master/api.h"

#include <unordered_map>

#include "core/log.h"
#include "master/api_artifacts.h"
#include "master/api_bodies.h"
#include "master/api_json.h"
#include "master/api_schedulers.h"
#include "master/api_util.h"
#include "master/controller.h"
#include "master/read_pool.h"
#include "metrics/master_metrics.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

class Api {
 public:
  Api(Controller& c, ReadPool& r, ConfigSource cfg, std::function<Json()> masters)
      : controller_(c), reads_(r), config_(std::move(cfg)), masters_(std::move(masters)) {}

  void BuilderBuilds(const Request& req, Responder respond) {
    std::string name = req.params[0];
    if (!config_()->FindBuilder(name))
      return respond(Response::Error(404, "no such builder: " + name));
    int64_t limit, before;
    if (!QueryInt(req, "limit", 50, 1, 1000, &limit, respond)) return;
    if (!QueryInt(req, "before", 0, 0, INT64_MAX, &before, respond)) return;
    reads_.Run([name, limit, before, respond](Store& store) {
      std::vector<BuildRecord> builds;
      Status st = store.ListBuilds(name, before, static_cast<int>(limit), &builds);
      if (!st.ok()) return respond(ErrorResponse(st));
      Json out = Json::array();
      for (const auto& b : builds) out.push_back(BuildJson(b));
      respond(Response::Json(200, out));
    });
  }

  void Build(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseInt64(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    reads_.Run([id, respond](Store& store) {
      BuildRecord b;
      Status st = store.GetBuild(id, &b);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::vector<StepRecord> steps;
      st = store.ListSteps(id, &steps);
      if (!st.ok()) return respond(ErrorResponse(st));
      Json j = BuildJson(b);
      j["steps"] = Json::array();
      for (const auto& s : steps) j["steps"].push_back(StepJson(s));
      RequestRecord r;
      if (store.GetRequest(b.request_id, &r).ok()) {
        j["reason"] = r.reason;
        j["source"] = r.source;
      }
      std::vector<ChangeRecord> changes;  // the changes its request was made for
      j["changes"] = Json::array();
      if (store.ChangesOfRequest(b.request_id, &changes).ok())
        for (const auto& c : changes) j["changes"].push_back(ChangeJson(c));
      std::vector<StepTestsRecord> tests;  // JUnit totals (details: .../tests)
      if (store.ListBuildTests(id, &tests).ok() && !tests.empty())
        j["tests"] = TestTotalsJson(tests);
      respond(Response::Json(200, j));
    });
  }

  // Plain text. ?offset=N reads from byte N (for tailing: pass the X-Log-Next-Offset of the
  // previous answer); ?tail=N returns the last N bytes; ?limit caps the answer (default 1 MiB).
  void Log(const Request& req, Responder respond) {
    int64_t id, step, offset, limit, tail;
    if (!ParseInt64(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    if (!ParseInt64(req.params[1], &step))
      return respond(Response::Error(400, "invalid step number: " + req.params[1]));
    if (!QueryInt(req, "offset", 0, 0, INT64_MAX, &offset, respond)) return;
    if (!QueryInt(req, "limit", 1 << 20, 1, 16 << 20, &limit, respond)) return;
    if (!QueryInt(req, "tail", -1, 0, 16 << 20, &tail, respond)) return;
    reads_.Run([=](Store& store) {
      std::vector<StepRecord> steps;
      Status st = store.ListSteps(id, &steps);
      if (!st.ok()) return respond(ErrorResponse(st));
      auto it = std::find_if(steps.begin(), steps.end(),
                             [&](const StepRecord& s) { return s.idx == step; });
      if (it == steps.end())
        return respond(Response::Error(
            404, "build " + std::to_string(id) + " has no step " + std::to_string(step)));
      int64_t from = tail >= 0 ? std::max<int64_t>(0, it->log_bytes - tail) : offset;
      int64_t max = tail >= 0 ? std::min(tail, limit) : limit;
      std::string text;
      int64_t total = 0;
      st = store.ReadLog(id, static_cast<int>(step), from, max, &text, &total);
      if (!st.ok()) return respond(ErrorResponse(st));
      Response r = Response::Text(200, std::move(text));
      r.headers["X-Log-Size"] = std::to_string(total);
      r.headers["X-Log-Offset"] = std::to_string(from);
      r.headers["X-Log-Next-Offset"] = std::to_string(from + static_cast<int64_t>(r.body.size()));
      r.headers["X-Step-State"] = it->state;
      respond(std::move(r));
    });
  }

  void Force(const Request& req, Responder respond) {
    ForceArgs args;
    Status st = ParseForceBody(req.body, req.params[0], *config_(), &args);
    if (!st.ok()) return respond(ErrorResponse(st));
    controller_.Force(std::move(args), [respond](const Status& st, int64_t id) {
      if (!st.ok()) return respond(ErrorResponse(st));
      respond(Response::Json(201, {{"request", id}}));
    });
  }

  void RequestInfo(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseInt64(req.params[0], &id))
      return respond(Response::Error(400, "invalid request id: " + req.params[0]));
    reads_.Run([id, respond](Store& store) {
      RequestRecord r;
      Status st = store.GetRequest(id, &r);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::vector<BuildRecord> builds;
      (void)store.BuildsOfRequest(id, &builds);
      Json j = RequestJson(r);
      j["builds"] = Json::array();
      for (const auto& b : builds) j["builds"].push_back(BuildJson(b));
      int64_t by = 0;  // collapsed: the newer request that replaced this one
      if (store.SupersededBy(id, &by).ok() && by) j["superseded_by"] = by;
      respond(Response::Json(200, j));
    });
  }

  void Workers(const Request&, Responder respond) {
    controller_.DescribeWorkers([respond](Status st, Json j) {
      respond(st.ok() ? Response::Json(200, j) : ErrorResponse(st));
    });
  }

  void StatusInfo(const Request&, Responder respond) {
    auto config = config_();
    // Read here, on the network thread: the cluster's snapshot is not the core loop's.
    Json masters = masters_ ? masters_() : Json();
    controller_.DescribeQueue([respond, config, masters = std::move(masters)](Status st, Json j) {
      if (!st.ok()) return respond(ErrorResponse(st));
      j["project"] = {{"name", config->project_name}, {"url", config->project_url}};
      j["builders_count"] = config->builders.size();
      if (!masters.is_null()) j["masters"] = masters;
      // The home page's charts (the last hour, a sample every ~30 s): no call of their own.
      Json history = Json::array();
      for (const auto& s : metrics::Samples())
        history.push_back({{"at", s.at_ms},
                           {"queued", s.queued},
                           {"running", s.running},
                           {"workers_connected", s.workers_connected},
                           {"workers_busy", s.workers_busy}});
      j["history"] = std::move(history);
      respond(Response::Json(200, j));
    });
  }

 private:
  Controller& controller_;
  ReadPool& reads_;
  ConfigSource config_;
  std::function<Json()> masters_;
};

}  // namespace

void AddApiRoutes(http::Router& router, Controller& controller, ReadPool& reads,
                  ConfigSource config, std::function<Json()> masters) {
  auto api = std::make_shared<Api>(controller, reads, std::move(config), std::move(masters));
  auto bind = [api](void (Api::*fn)(const Request&, Responder)) {
    return
        [api, fn](const Request& req, Responder respond) { ((*api).*fn)(req, std::move(respond)); };
  };
  // GET /api/v1/builders is in api_control.cc (cached between changes).
  router.Add("GET", "/api/v1/builders/{name}/builds", bind(&Api::BuilderBuilds));
  router.Add("POST", "/api/v1/builders/{name}/force", bind(&Api::Force));
  router.Add("GET", "/api/v1/builds/{id}", bind(&Api::Build));
  router.Add("GET", "/api/v1/builds/{id}/steps/{n}/log", bind(&Api::Log));
  router.Add("GET", "/api/v1/requests/{id}", bind(&Api::RequestInfo));
  router.Add("GET", "/api/v1/workers", bind(&Api::Workers));
  router.Add("GET", "/api/v1/status", bind(&Api::StatusInfo));
}

}  // namespace grove
