// grove master, grove checkconfig, grove reconfig: the commands that work on a master directory.
// grove.lua is always evaluated in a child process under limits (config/config_eval.h); the
// hidden `grove __eval-config` is that child.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"
#include "config/config.h"
#include "config/config_eval.h"
#include "core/duration.h"
#include "core/log.h"
#include "master/master.h"

namespace grove {

namespace {

// --config-time-limit, --config-cpu-limit, --config-memory-limit; unset ones keep the value from
// the environment ($GROVE_CONFIG_*) or the default.
struct LimitArgs {
  std::string time, cpu, memory;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--config-time-limit", time,
                    "Wall-clock time grove.lua may take to evaluate (default 10s)");
    cmd->add_option("--config-cpu-limit", cpu, "CPU time grove.lua may use (default 10s)");
    cmd->add_option("--config-memory-limit", memory,
                    "Memory grove.lua may use, in MiB (default 512)");
  }

  ConfigLimits Resolve() const {
    ConfigLimits limits;
    Status st = ConfigLimitsFromEnv(&limits);
    if (!st.ok()) Fail(kExitUsage, st.message());
    if (!time.empty()) st = ParseTimeLimit(time, &limits.time);
    if (st.ok() && !cpu.empty()) st = ParseCpuLimit(cpu, &limits.cpu);
    if (st.ok() && !memory.empty()) st = ParseMemoryLimit(memory, &limits.memory);
    if (!st.ok()) Fail(kExitUsage, st.message());
    return limits;
  }
};

// docs/operations.md: 2 for invalid input (a config error, a limit hit), 1 for other errors
// (the file cannot be read, the evaluation could not run).
int ExitCodeFor(const Status& st) {
  // A database or broker that cannot be reached is exit code 4, as a master is for clients.
  if (st.code() == Status::Code::kUnavailable) return kExitUnreachable;
  return st.IsInvalid() ? kExitUsage : kExitFailure;
}

struct MasterArgs {
  std::string dir;
  std::string listen;
  std::string name;
  std::string grace = "10s";
  std::string log_level = "info";
  LimitArgs limits;
};

void Master(const MasterArgs& a) {
  InitLogging("master", a.log_level);
  MasterOptions opts;
  opts.dir = a.dir;
  opts.listen = a.listen;
  opts.name = a.name;
  opts.config_limits = a.limits.Resolve();
  std::chrono::seconds grace;
  Status st = ParseDuration(a.grace, &grace);
  if (!st.ok()) Fail(kExitUsage, "--worker-grace: " + st.message());
  opts.worker_grace = grace;
  // Until the master's own signal handling is in place (after the start-up evaluation).
  KillConfigEvaluationOnSignals();
  st = RunMaster(opts);
  if (!st.ok()) Fail(ExitCodeFor(st), st.message());
}

void Checkconfig(const std::string& dir, const ConfigLimits& limits) {
  KillConfigEvaluationOnSignals();
  Config config;
  EvalOptions options;
  options.limits = limits;
  Status st = EvaluateConfig(dir + "/grove.lua", options, &config);
  if (!st.ok()) Fail(ExitCodeFor(st), st.message());
  std::cout << dir << "/grove.lua: OK (" << config.builders.size() << " builders, "
            << config.workers.size() << " workers)\n";
}

struct EvalArgs {
  std::string file;
  int64_t time_limit_ms = 10000;
  int64_t cpu_limit_s = 10;
  uint64_t memory_limit_bytes = uint64_t{512} << 20;
  int64_t parent_pid = 0;
};

}  // namespace

void AddMasterCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "master", "Run the master of the directory DIR (foreground; stop with Ctrl-C)");
  auto a = std::make_shared<MasterArgs>();
  cmd->add_option("DIR", a->dir, "The master directory (holds grove.lua)")->required();
  cmd->add_option("--listen", a->listen,
                  "HOST:PORT to serve the web UI and API on (overrides grove.lua)");
  cmd->add_option("--name", a->name,
                  "This master's instance name, unique among the masters sharing one store "
                  "(default: HOSTNAME:PORT)");
  cmd->add_option(
         "--worker-grace", a->grace,
         "How long a disconnected worker's jobs wait for it to come back before they are re-queued")
      ->capture_default_str();
  cmd->add_option("--log-level", a->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  a->limits.AddTo(cmd);
  cmd->callback([a] { Master(*a); });
}

void AddCheckconfigCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("checkconfig", "Check DIR/grove.lua; errors name file:line");
  auto dir = std::make_shared<std::string>();
  auto limits = std::make_shared<LimitArgs>();
  cmd->add_option("DIR", *dir, "The master directory")->required();
  limits->AddTo(cmd);
  cmd->callback([dir, limits] { Checkconfig(*dir, limits->Resolve()); });
}

void AddReconfigCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("reconfig", "Check DIR/grove.lua, then make the running master apply it");
  auto dir = std::make_shared<std::string>();
  auto limits = std::make_shared<LimitArgs>();
  cmd->add_option("DIR", *dir, "The master directory")->required();
  limits->AddTo(cmd);
  cmd->callback([dir, limits] {
    Checkconfig(*dir, limits->Resolve());
    Status st = SignalReconfig(*dir);
    if (!st.ok()) Fail(kExitUnreachable, st.message());
    std::cout << "reconfig requested; the master's log says when it is applied\n";
  });
}

void AddEvalConfigCommand(CLI::App& app) {
  // Internal: the child process of EvaluateConfig. Hidden from --help.
  auto* cmd = app.add_subcommand("__eval-config", "");
  cmd->group("");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("FILE", a->file)->required();
  cmd->add_option("--time-limit-ms", a->time_limit_ms)->required();
  cmd->add_option("--cpu-limit-s", a->cpu_limit_s)->required();
  cmd->add_option("--memory-limit-bytes", a->memory_limit_bytes)->required();
  cmd->add_option("--parent-pid", a->parent_pid)->required();
  cmd->callback([a] {
    ConfigLimits limits;
    limits.time = std::chrono::milliseconds(a->time_limit_ms);
    limits.cpu = std::chrono::seconds(a->cpu_limit_s);
    limits.memory = static_cast<size_t>(a->memory_limit_bytes);
    throw CLI::RuntimeError(
        RunConfigEvaluation(a->file, limits, static_cast<pid_t>(a->parent_pid)));
  });
}

}  // namespace grove
