// grove publish: enqueue a consumer job (POST /api/v1/jobs) and optionally wait for its result.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "http_client.h"

namespace grove {

using Json = nlohmann::json;

namespace {

struct PublishArgs {
  std::string master;
  std::string consumer;
  std::string payload = "{}";
  std::string reason;
  bool wait = false;
  std::string token;
};

Json Call(const std::string& method, const std::string& url, const std::string& body,
          const std::string& token) {
  HttpResult res;
  Status st = HttpCall(method, url, body, &res, token);
  if (!st.ok()) Fail(kExitUnreachable, st.message());
  Json j = Json::parse(res.body, nullptr, false);
  if (res.status >= 400) {
    std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : res.body;
    if (res.status == 401) msg += " (the master requires an API token: --token or $GROVE_TOKEN)";
    Fail(res.status == 400 || res.status == 404 ? kExitUsage : kExitFailure, msg);
  }
  if (j.is_discarded()) Fail(kExitFailure, "the master answered something that is not JSON");
  return j;
}

void Publish(const PublishArgs& a) {
  const std::string base = MasterUrl(a.master);
  const std::string token = ApiToken(a.token);
  Json payload = Json::parse(a.payload, nullptr, false);
  if (payload.is_discarded()) Fail(kExitUsage, "--payload is not valid JSON: " + a.payload);
  Json body = {{"consumer", a.consumer}, {"payload", payload}};
  if (!a.reason.empty()) body["reason"] = a.reason;
  Json answer = Call("POST", base + "/api/v1/jobs", body.dump(), token);
  int64_t id = answer.value("request", int64_t{0});
  if (!a.wait) {
    std::cout << "request " << id << " queued for consumer " << a.consumer << "\n";
    return;
  }
  // With --wait, stdout is the job's result JSON (nothing when it gave none), so that scripts
  // can pipe it; the outcome goes to stderr and the exit code.
  for (;;) {
    Json req = Call("GET", fmt::format("{}/api/v1/requests/{}", base, id), "", token);
    std::string state = req.value("state", "");
    if (state == "finished" || state == "cancelled") {
      std::string result =
          req["result"].is_string() ? req["result"].get<std::string>() : "cancelled";
      if (!req["builds"].empty()) {
        int64_t build = req["builds"].back().value("id", int64_t{0});
        Json b = Call("GET", fmt::format("{}/api/v1/builds/{}", base, build), "", token);
        for (const auto& s : b["steps"])
          if (s.contains("result_json")) std::cout << s["result_json"].dump() << "\n";
        std::cerr << fmt::format("request {} (build {}): {}\n", id, build, result);
      } else {
        std::cerr << fmt::format("request {}: {}\n", id, result);
      }
      if (result == "success" || result == "warnings") return;
      throw CLI::RuntimeError(result == "failure" ? kExitFailure : kExitException);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

void AddPublishCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("publish", "Queue a job for the consumer NAME (POST /api/v1/jobs)");
  auto a = std::make_shared<PublishArgs>();
  cmd->add_option("NAME", a->consumer, "The consumer, as declared in grove.lua")->required();
  cmd->add_option("--payload", a->payload, "The job's payload, JSON")->capture_default_str();
  cmd->add_option("--reason", a->reason, "Why (shown with the build)");
  cmd->add_option("--token", a->token,
                  "An API token (`grove user token`) for a master that requires login "
                  "(default $GROVE_TOKEN)");
  cmd->add_flag("--wait", a->wait,
                "Wait for the job; print its result JSON; exit 0 on success, 1 on failure, 3 on "
                "exception");
  cmd->add_option("--master", a->master,
                  "The master's URL (default $GROVE_MASTER, else http://127.0.0.1:8010)");
  cmd->callback([a] { Publish(*a); });
}

}  // namespace grove
