// grove master, grove checkconfig, grove reconfig: the commands that work on a master directory.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"
#include "config/config.h"
#include "core/duration.h"
#include "core/log.h"
#include "master/master.h"

namespace grove {

namespace {

struct MasterArgs {
  std::string dir;
  std::string listen;
  std::string grace = "10s";
  std::string log_level = "info";
};

void Master(const MasterArgs& a) {
  InitLogging("master", a.log_level);
  MasterOptions opts;
  opts.dir = a.dir;
  opts.listen = a.listen;
  std::chrono::seconds grace;
  Status st = ParseDuration(a.grace, &grace);
  if (!st.ok()) Fail(kExitUsage, "--worker-grace: " + st.message());
  opts.worker_grace = grace;
  st = RunMaster(opts);
  if (!st.ok()) {
    // A database or broker that cannot be reached is exit code 4, as a master is for clients.
    Fail(st.IsInvalid()                            ? kExitUsage
         : st.code() == Status::Code::kUnavailable ? kExitUnreachable
                                                   : kExitFailure,
         st.message());
  }
}

void Checkconfig(const std::string& dir) {
  Config config;
  Status st = LoadConfig(dir + "/grove.lua", &config);
  if (!st.ok()) Fail(kExitFailure, st.message());
  std::cout << dir << "/grove.lua: OK (" << config.builders.size() << " builders, "
            << config.workers.size() << " workers)\n";
}

}  // namespace

void AddMasterCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "master", "Run the master of the directory DIR (foreground; stop with Ctrl-C)");
  auto a = std::make_shared<MasterArgs>();
  cmd->add_option("DIR", a->dir, "The master directory (holds grove.lua)")->required();
  cmd->add_option("--listen", a->listen,
                  "HOST:PORT to serve the web UI and API on (overrides grove.lua)");
  cmd->add_option(
         "--worker-grace", a->grace,
         "How long a disconnected worker's jobs wait for it to come back before they are re-queued")
      ->capture_default_str();
  cmd->add_option("--log-level", a->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([a] { Master(*a); });
}

void AddCheckconfigCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("checkconfig", "Check DIR/grove.lua; errors name file:line");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "The master directory")->required();
  cmd->callback([dir] { Checkconfig(*dir); });
}

void AddReconfigCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("reconfig", "Check DIR/grove.lua, then make the running master apply it");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "The master directory")->required();
  cmd->callback([dir] {
    Checkconfig(*dir);
    Status st = SignalReconfig(*dir);
    if (!st.ok()) Fail(kExitFailure, st.message());
    std::cout << "reconfig requested; the master's log says when it is applied\n";
  });
}

}  // namespace grove
