// Master: loads grove.lua, opens the store, and runs the HTTP API, the embedded broker and the
// controller until SIGINT or SIGTERM. SIGHUP re-reads grove.lua (evaluated in a child process,
// off the network thread: config_reloader.h) and applies it whole, or not at all when it has an
// error or exceeds a limit.
#pragma once

#include <chrono>
#include <string>

#include "config/config_eval.h"
#include "core/status.h"

namespace grove {

struct MasterOptions {
  std::string dir;     // the master directory (grove.lua, state/, secrets/)
  std::string listen;  // overrides web { listen = ... } when set
  // The instance name among the masters sharing one store; "" = DefaultMasterName (host:port).
  std::string name;
  std::chrono::milliseconds worker_grace{10000};
  int read_threads = 2;
  ConfigLimits config_limits;  // for evaluating grove.lua, at start-up and on every reconfig
};

// Blocks until the master is asked to stop. Errors at start-up are returned.
Status RunMaster(const MasterOptions& opts);

// Re-reads the configuration of the master running in |dir| (sends it SIGHUP).
Status SignalReconfig(const std::string& dir);

}  // namespace grove
