#include "pool/pool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/fd_util.h"
#include "core/secret_mask.h"

extern char** environ;

namespace grove::pool {

namespace {

constexpr size_t kMaxReports = 20;

// The number N of NAME-N (0 when |name| is not one).
int NumberOf(const std::string& pool, const std::string& name) {
  if (name.size() <= pool.size() + 1 || name.compare(0, pool.size() + 1, pool + "-") != 0) return 0;
  int n = 0;
  for (size_t i = pool.size() + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || n > 100000) return 0;
    n = n * 10 + (name[i] - '0');
  }
  return n;
}

Status WriteSecretFile(const std::string& path, const std::string& secret) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Status::IoError("cannot create " + path + ": " + ec.message());
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  const std::string data = secret + "\n";
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Pool::Pool(WorkerConfig wc) : wc_(std::move(wc)) {}

void Pool::Reconfigure(WorkerConfig wc, int64_t now) {
  wc_ = std::move(wc);
  removed_ = false;
  for (const Instance& i : state_.instances)
    if (NumberOf(wc_.name, i.name) > wc_.on_demand.max) Drain(&state_, i.name, now);
}

void Pool::Remove(int64_t now) {
  removed_ = true;
  for (const Instance& i : state_.instances) Drain(&state_, i.name, now);
}

std::vector<Action> Pool::Tick(const Snapshot& snap) {
  OnDemandConfig cfg = wc_.on_demand;
  if (removed_) {
    cfg.min = 0;
    cfg.max = 0;
  }
  Snapshot s = snap;
  if (removed_) s.waiting = 0;
  return Decide(wc_.name, cfg, wc_.capacity, s, &state_);
}

std::vector<Action> Pool::StartDone(const std::string& name, const CommandOutcome& outcome,
                                    int64_t now) {
  Report({name, "start", outcome.status.ok() ? "ok" : outcome.status.message(), outcome.output, now,
          outcome.duration_ms});
  return OnStartDone(&state_, name, outcome.status.ok(),
                     "start command " + outcome.status.message(), now);
}

void Pool::StopDone(const std::string& name, const CommandOutcome& outcome, int64_t now) {
  Report({name, "stop", outcome.status.ok() ? "ok" : outcome.status.message(), outcome.output, now,
          outcome.duration_ms});
  OnStopDone(&state_, name);
}

std::vector<Action> Pool::Recover(const std::vector<PoolInstanceRecord>& records, int64_t now) {
  std::vector<Action> stops;
  for (const PoolInstanceRecord& r : records) {
    if (r.pool != wc_.name || FindInstance(state_, r.name)) continue;
    Instance i;
    i.name = r.name;
    i.id = r.instance;
    i.started_at = r.started_at;
    i.since = i.idle_since = now;
    i.recovered = true;
    i.start_done = true;
    if (r.state == "stopping") {
      i.state = InstanceState::kStopping;
      stops.push_back({ActionKind::kStop, i.name, i.id, "its stop was interrupted by a restart"});
    }
    state_.instances.push_back(std::move(i));
  }
  return stops;
}

Status Pool::Admit(const std::string& name) const {
  const Instance* i = FindInstance(state_, name);
  if (!i)
    return Status::Unauthorized("on-demand instance " + name + " was not started by the master");
  if (TakesNoJob(i->state) && i->state != InstanceState::kDraining)
    return Status::Unauthorized("on-demand instance " + name + " is being stopped");
  return Status::Ok();
}

Status Pool::CommandFor(const Action& a, const PoolEnv& env, BoundedCommand* cmd) const {
  cmd->argv = a.kind == ActionKind::kStart ? wc_.on_demand.start : wc_.on_demand.stop;
  cmd->limit_s = static_cast<int>(std::min<int64_t>(wc_.on_demand.start_timeout_s, 86400));
  const std::string secret_file =
      (std::filesystem::path(env.secret_dir) / (wc_.name + ".secret")).string();
  GROVE_RETURN_IF_ERROR(WriteSecretFile(secret_file, wc_.secret));
  cmd->env.clear();
  // The master's environment (PATH, HOME, a cloud CLI's credentials), without GROVE_ variables
  // of its own, then what the command is told.
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GROVE_", 6) != 0) cmd->env.push_back(*e);
  cmd->env.push_back("GROVE_WORKER_NAME=" + a.name);
  cmd->env.push_back("GROVE_POOL=" + wc_.name);
  cmd->env.push_back("GROVE_INSTANCE=" + a.id);
  cmd->env.push_back("GROVE_MASTER_URL=" + env.master_url);
  if (!env.broker_url.empty()) cmd->env.push_back("GROVE_BROKER_URL=" + env.broker_url);
  cmd->env.push_back("GROVE_SECRET_FILE=" + secret_file);
  return Status::Ok();
}

const char* Pool::StoredState(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kStopping:
    case InstanceState::kFailed:
      return "stopping";
    default:
      return "connected";
  }
}

bool Pool::Record(const std::string& name, PoolInstanceRecord* out) const {
  const Instance* i = FindInstance(state_, name);
  if (!i) return false;
  out->name = i->name;
  out->pool = wc_.name;
  out->instance = i->id;
  out->state = StoredState(i->state);
  out->started_at = i->started_at;
  out->updated_at = i->since;
  return true;
}

void Pool::Report(CommandReport r) {
  r.output = MaskSecrets(r.output, {wc_.secret});
  reports_.push_back(std::move(r));
  if (reports_.size() > kMaxReports) reports_.erase(reports_.begin());
}

Json Pool::Describe(int64_t now,
                    const std::function<void(const std::string&, Json*)>& describe_instance) const {
  const OnDemandConfig& od = wc_.on_demand;
  Json counts = Json::object();
  Json instances = Json::array();
  for (const Instance& i : state_.instances) {
    Json j = {{"name", i.name},   {"instance", i.id},           {"state", StateName(i.state)},
              {"since", i.since}, {"started_at", i.started_at}, {"recovered", i.recovered}};
    if (describe_instance) describe_instance(i.name, &j);
    for (auto it = reports_.rbegin(); it != reports_.rend(); ++it) {
      if (it->instance != i.name) continue;
      j["last_command"] = {{"kind", it->kind}, {"result", it->result}, {"at", it->at}};
      break;
    }
    counts[StateName(i.state)] = counts.value(StateName(i.state), 0) + 1;
    instances.push_back(std::move(j));
  }
  Json commands = Json::array();
  for (const CommandReport& r : reports_)
    commands.push_back({{"instance", r.instance},
                        {"kind", r.kind},
                        {"result", r.result},
                        {"output", r.output},
                        {"at", r.at},
                        {"duration_ms", r.duration_ms}});
  Json out = {{"max", od.max},
              {"min", od.min},
              {"idle_s", od.idle_s},
              {"start_timeout_s", od.start_timeout_s},
              {"removed", removed_},
              {"instances", instances},
              {"counts", counts},
              {"failures", state_.failures},
              {"failed_starts", state_.failed_total},
              {"started", state_.started_total},
              {"backoff_until", state_.backoff_until > now ? Json(state_.backoff_until) : Json()},
              {"last_error", state_.last_error.empty() ? Json() : Json(state_.last_error)},
              {"commands", commands}};
  return out;
}

}  // namespace grove::pool
