// grove publish: enqueue a consumer job (POST /api/v1/jobs) and optionally wait for its result,
// or many (--payloads-file: JSON Lines, sent in batches).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "http_client.h"
#include "payload_lines.h"

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
  std::string payloads_file;  // JSON Lines; "-" = stdin
  size_t batch = 500;
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

// --payloads-file: every line is read and checked first, so a bad line sends nothing; then the
// batches go one after the other, each stored whole or not at all by the master.
void PublishMany(const PublishArgs& a, const std::string& base, const std::string& token) {
  std::vector<std::string> jobs;
  Status st;
  if (a.payloads_file == "-") {
    st = ReadPayloadLines(std::cin, a.consumer, a.reason, &jobs);
  } else {
    std::ifstream in(a.payloads_file);
    if (!in) Fail(kExitUsage, "cannot read --payloads-file " + a.payloads_file);
    st = ReadPayloadLines(in, a.consumer, a.reason, &jobs);
  }
  if (!st.ok()) Fail(kExitUsage, "--payloads-file " + a.payloads_file + ": " + st.message());
  size_t sent = 0;
  for (const std::string& body : BatchBodies(jobs, a.batch)) {
    HttpResult res;
    st = HttpCall("POST", base + "/api/v1/jobs", body, &res, token);
    Json answer = st.ok() ? Json::parse(res.body, nullptr, false) : Json();
    if (!st.ok() || res.status >= 400) {
      // The batches before this one are queued: say how far it went, so a rerun can skip them.
      std::string why =
          !st.ok() ? st.message()
          : answer.is_object() && answer.contains("error") && answer["error"].is_string()
              ? answer["error"].get<std::string>()
              : res.body;
      if (res.status == 401) why += " (the master requires an API token: --token or $GROVE_TOKEN)";
      Fail(!st.ok()                                                      ? kExitUnreachable
           : res.status == 400 || res.status == 404 || res.status == 413 ? kExitUsage
                                                                         : kExitFailure,
           fmt::format("{} (the first {} of {} jobs were queued, the rest not)", why, sent,
                       jobs.size()));
    }
    if (!answer.is_object() || !answer.contains("requests") || !answer["requests"].is_array())
      Fail(kExitFailure, "the master answered something that is not a batch's answer");
    for (const Json& id : answer["requests"]) {
      std::cout << "request " << (id.is_number_integer() ? id.get<int64_t>() : 0)
                << " queued for consumer " << a.consumer << "\n";
      ++sent;
    }
  }
  std::cout.flush();
  std::cerr << fmt::format("{} jobs queued for consumer {}\n", sent, a.consumer);
}

void Publish(const PublishArgs& a) {
  const std::string base = MasterUrl(a.master);
  const std::string token = ApiToken(a.token);
  if (!a.payloads_file.empty()) {
    if (a.wait) Fail(kExitUsage, "--wait waits for one job: not with --payloads-file");
    return PublishMany(a, base, token);
  }
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
  auto* payload =
      cmd->add_option("--payload", a->payload, "The job's payload, JSON")->capture_default_str();
  cmd->add_option("--payloads-file", a->payloads_file,
                  "Queue one job per line of this JSON Lines file ('-' = stdin), sent in "
                  "batches (each stored whole or not at all); prints a line per request")
      ->excludes(payload);
  cmd->add_option("--batch", a->batch, "With --payloads-file: jobs per request (1 to 1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
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
