#include "worker/trigger_step.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <map>

#include "core/json_fields.h"
#include "worker/http_call.h"

namespace grove {

namespace asio = boost::asio;

namespace {

// One blocking HTTP call; false with |error| when the master could not be reached.
bool Call(const std::string& method, const std::string& url, const std::string& token,
          const std::string& body, long* status, std::string* answer, std::string* error) {
  HttpRequestSpec spec;
  spec.method = method;
  spec.url = url;
  spec.headers = {"Content-Type: application/json", "Authorization: Bearer " + token};
  spec.body = body;
  spec.connect_timeout_s = 5;
  spec.timeout_s = 30;
  std::atomic<bool> never{false};
  HttpOutcome out = PerformHttp(spec, &never);
  *answer = std::move(out.body);
  if (!out.error.empty()) {
    *error = out.error;
    return false;
  }
  *status = out.status;
  return true;
}

std::string ErrorOf(const std::string& answer) {
  Json j = ParseUntrusted(answer);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"];
  return answer.substr(0, 200);
}

}  // namespace

TriggerStep::~TriggerStep() {
  *cancelled_ = true;
  if (thread_.joinable()) thread_.join();
}

void TriggerStep::Cancel() {
  *cancelled_ = true;
}

void TriggerStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  asio::io_context& io = *ctx.io;
  auto log = [&io, fn = ctx.log](std::string text) {
    asio::post(io, [fn, text = std::move(text)] { fn(text); });
  };
  auto finish = [&io, done](Result r) { asio::post(io, [done, r] { done(r); }); };
  const Json& options = ctx.step->options;
  std::string target = StringOr(options, "target", "");
  bool wait = BoolOr(options, "wait", true);
  Json properties = options.value("properties", Json::object());
  std::string base = ctx.job->master_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string token = ctx.job->api_token;
  if (token.empty() || base.empty()) {
    log("[grove] this job has no API token or master URL: the master cannot be asked to "
        "trigger builds\n");
    return finish(Result::kException);
  }
  thread_ = std::thread([=, cancelled = cancelled_] {
    long status = 0;
    std::string answer, error;
    Json body = {{"target", target}, {"properties", properties}};
    if (!Call("POST", base + "/api/v1/trigger", token, body.dump(), &status, &answer, &error)) {
      log(fmt::format("[grove] cannot reach the master at {}: {}\n", base, error));
      return finish(Result::kException);
    }
    if (status != 201) {
      log(fmt::format("[grove] the master refused to trigger '{}' ({}): {}\n", target, status,
                      ErrorOf(answer)));
      return finish(Result::kException);
    }
    Json j = ParseUntrusted(answer);
    std::vector<int64_t> ids;
    if (j.is_object() && j.contains("requests") && j["requests"].is_array())
      for (const Json& id : j["requests"])
        if (id.is_number_integer()) ids.push_back(id.get<int64_t>());
    std::string list;
    for (int64_t id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
    log(fmt::format("[grove] triggered '{}': requests {}\n", target, list));
    if (!wait) return finish(Result::kSuccess);

    std::map<int64_t, Result> results;
    int failures = 0;
    while (results.size() < ids.size()) {
      for (int i = 0; i < 10; ++i) {  // one second, cancellable
        if (*cancelled) {
          log("[grove] stopped waiting for the triggered builds\n");
          return finish(Result::kCancelled);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      for (int64_t id : ids) {
        if (results.count(id)) continue;
        if (!Call("GET", base + "/api/v1/trigger/requests/" + std::to_string(id), token, "",
                  &status, &answer, &error) ||
            status != 200) {
          if (++failures > 120) {
            log(fmt::format("[grove] lost track of request {}: {}\n", id,
                            error.empty() ? ErrorOf(answer) : error));
            return finish(Result::kException);
          }
          continue;
        }
        failures = 0;
        Json r = ParseUntrusted(answer);
        if (!r.is_object()) continue;
        std::string state = StringOr(r, "state", "");
        if (state != "finished" && state != "cancelled") continue;
        Result res = Result::kCancelled;
        if (r.contains("result") && r["result"].is_string())
          res = ParseResult(r["result"].get<std::string>()).value_or(Result::kException);
        results[id] = res;
        log(fmt::format("[grove] request {} ({}) finished: {}{}\n", id, StringOr(r, "builder", ""),
                        ResultName(res),
                        r.contains("build") ? fmt::format(" (build {})", r["build"].dump()) : ""));
      }
    }
    Result worst = Result::kSuccess;
    for (const auto& [id, res] : results) worst = WorseResult(worst, res);
    finish(worst);
  });
}

}  // namespace grove
