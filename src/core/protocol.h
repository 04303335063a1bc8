// The worker protocol's messages (docs/protocol.md is the normative description).
// The same JSON travels over the embedded broker's WebSocket and over AMQP.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

using Json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;

// One step as the worker runs it: everything already resolved by the master.
struct StepSpec {
  std::string name;
  std::string type = "shell";
  std::string command;            // run by /bin/sh -c when argv is empty
  std::vector<std::string> argv;  // run directly when not empty
  std::map<std::string, std::string> env;
  std::string workdir;    // relative to the build directory
  int64_t timeout_s = 0;  // 0: no limit
  bool halt_on_failure = true;
  Json options = Json::object();  // step-type specific settings
};

// One attempt at a build request.
struct JobSpec {
  int64_t request_id = 0;
  int attempt = 1;
  std::string builder;
  Json source = Json::object();
  Json properties = Json::object();
  std::vector<StepSpec> steps;
  // Values of the secrets the steps reference as ${secret:NAME}: the worker interpolates them
  // and masks them in every log chunk. Never logged.
  std::map<std::string, std::string> secrets;
  int64_t build_id = 0;  // the build this attempt records into (0: not yet known)
  std::string token;     // authorises artifact uploads/downloads for this build only
  // Authorises this attempt's trigger calls to the master's API (docs/protocol.md); "" if none.
  std::string api_token;
  // Set by the worker from its --master URL; not part of the message.
  std::string master_url;
  // Set by the worker from its --consumer NAME=COMMAND options; not part of the message.
  std::map<std::string, std::string> consumers;
};

Json ToJson(const StepSpec& s);
Json ToJson(const JobSpec& j);
// {"type": "job", "job": ToJson(job)}: the message that carries |job| to a worker.
Json JobMessage(const JobSpec& job);
Status StepFromJson(const Json& in, StepSpec* out);
// What StepFromJson checks beyond the fields' types: the options every step type shares, and
// that a shell step has a command.
Status CheckStep(const StepSpec& step);
Status JobFromJson(const Json& in, JobSpec* out);

// Event types sent by workers.
namespace event {
inline constexpr const char* kJobStarted = "job.started";
inline constexpr const char* kStepStarted = "step.started";
inline constexpr const char* kLog = "log";
inline constexpr const char* kStepFinished = "step.finished";
inline constexpr const char* kJobFinished = "job.finished";
inline constexpr const char* kHeartbeat = "heartbeat";
}  // namespace event

// The link version (a master's welcome "v", WebSocket and AMQP alike) from which a master takes
// the merged events of docs/protocol.md: a job.started that also starts its first step
// ("step", "name") and a job.finished that also ends its last step ("step", "step_result", ...).
// A worker merges only after such a welcome; a master takes the separate events from any worker.
inline constexpr int kMergedEventsVersion = 4;

}  // namespace grove
