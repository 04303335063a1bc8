// The command line of a worker: `grove worker` and every worker binary made with the C++ SDK
// (include/grove/sdk.h) take the same flags, declared and validated here once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace CLI {
class App;
}

namespace grove {

class InProcessConsumers;

struct WorkerFlags {
  std::string master;  // "" → $GROVE_MASTER, else http://127.0.0.1:8010
  std::string name;
  std::string secret_file;
  std::string workdir = "worker";
  int capacity = 0;               // 0: as configured on the master (in both modes)
  std::string broker;             // distributed mode: take jobs from RabbitMQ
  std::vector<std::string> tags;  // distributed mode: the tags whose queues it consumes; empty:
                                  // grove.lua's, from the master's welcome
  std::string log_level = "info";
  std::vector<std::string> consumers;  // NAME=COMMAND, for consume steps
};

// Declares the worker's options on |app| (the `grove worker` subcommand, or an SDK binary's
// application); the parsed values land in |flags|, which must outlive the parse.
void AddWorkerFlags(CLI::App& app, WorkerFlags& flags);

// Validates |flags| and runs the worker they describe (embedded broker or RabbitMQ) until
// SIGINT/SIGTERM. On an error, *usage_error tells a bad flag (exit 2) from a failure (exit 1).
// |in_process| may be null (the grove binary has no compiled-in consumers).
Status RunWorkerWithFlags(const WorkerFlags& flags, std::shared_ptr<InProcessConsumers> in_process,
                          bool* usage_error);

}  // namespace grove
