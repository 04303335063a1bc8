// grove force, grove status: the command-line client of a running master's API.
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

// Calls the API; exits with a clear message when the master is unreachable or answers an error.
Json Api(const std::string& method, const std::string& url, const std::string& body = "",
         const std::string& token = ApiToken("")) {
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

struct ForceArgs {
  std::string master;
  std::string builder;
  std::vector<std::string> props;
  std::string reason;
  bool wait = false;
  std::string token;
};

void Force(const ForceArgs& a) {
  const std::string base = MasterUrl(a.master);
  Json body = {{"properties", Json::object()}};
  if (!a.reason.empty()) body["reason"] = a.reason;
  for (const auto& p : a.props) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      Fail(kExitUsage, "--prop takes NAME=VALUE, got '" + p + "'");
    body["properties"][p.substr(0, eq)] = p.substr(eq + 1);
  }
  const std::string token = ApiToken(a.token);
  Json answer = Api("POST", base + "/api/v1/builders/" + a.builder + "/force", body.dump(), token);
  int64_t id = answer.value("request", int64_t{0});
  std::cout << "request " << id << " queued for " << a.builder << "\n";
  if (!a.wait) return;
  for (;;) {
    Json req = Api("GET", fmt::format("{}/api/v1/requests/{}", base, id), "", token);
    std::string state = req.value("state", "");
    if (state == "finished" || state == "cancelled") {
      std::string result =
          req["result"].is_string() ? req["result"].get<std::string>() : "cancelled";
      if (!req["builds"].empty()) {
        const Json& b = req["builds"].back();
        std::cout << fmt::format("build {} #{} on {}: {}\n", a.builder, b.value("number", 0),
                                 b.value("worker", ""), result);
        std::cout << fmt::format("{}/ui/builds/{}\n", base, b.value("id", 0));
      } else {
        std::cout << "request " << id << ": " << result << "\n";
      }
      if (result == "success" || result == "warnings") return;
      throw CLI::RuntimeError(result == "failure" ? kExitFailure : kExitException);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void StatusCmd(const std::string& master) {
  const std::string base = MasterUrl(master);
  Json status = Api("GET", base + "/api/v1/status");
  Json builders = Api("GET", base + "/api/v1/builders");
  Json workers = Api("GET", base + "/api/v1/workers");
  std::cout << fmt::format("{} at {}: {} queued, {} running, {} workers connected\n",
                           status["project"].value("name", "Grove"), base,
                           status.value("queued_count", 0), status.value("running_count", 0),
                           status.value("workers_connected", 0));
  std::cout << "\nbuilders:\n";
  for (const auto& b : builders) {
    std::string last = "no builds yet";
    if (!b["recent_builds"].empty()) {
      const Json& r = b["recent_builds"][0];
      last = fmt::format(
          "#{} {}", r.value("number", 0),
          r["result"].is_string() ? r["result"].get<std::string>() : r.value("state", ""));
    }
    std::cout << fmt::format("  {:<30} {}\n", b.value("name", ""), last);
  }
  std::cout << "\nworkers:\n";
  for (const auto& w : workers) {
    std::cout << fmt::format("  {:<30} {:<12} {} / {} jobs\n", w.value("name", ""),
                             w.value("connected", false)
                                 ? (w.value("paused", false) ? "paused" : "connected")
                                 : "offline",
                             w["running"].size(), w.value("capacity", 0));
  }
}

}  // namespace

void AddForceCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("force", "Queue a build of BUILDER on the master");
  auto a = std::make_shared<ForceArgs>();
  cmd->add_option("BUILDER", a->builder, "The builder to build")->required();
  cmd->add_option("--prop", a->props, "A build property NAME=VALUE (repeatable)");
  cmd->add_option("--reason", a->reason, "Why (shown with the build)");
  cmd->add_option("--token", a->token,
                  "An API token (`grove user token`) for a master that requires login "
                  "(default $GROVE_TOKEN)");
  cmd->add_flag("--wait", a->wait,
                "Wait for the build; exit 0 on success, 1 on failure, 3 on exception");
  cmd->add_option("--master", a->master,
                  "The master's URL (default $GROVE_MASTER, else http://127.0.0.1:8010)");
  cmd->callback([a] { Force(*a); });
}

void AddStatusCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("status", "Show the master's builders, workers and queue");
  auto master = std::make_shared<std::string>();
  cmd->add_option("--master", *master,
                  "The master's URL (default $GROVE_MASTER, else http://127.0.0.1:8010)");
  cmd->callback([master] { StatusCmd(*master); });
}

}  // namespace grove
