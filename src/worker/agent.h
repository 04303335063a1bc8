// The worker process: connects to the master, runs the jobs it is given (up to its capacity,
// each in a build directory of its own) and streams their events back.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

class InProcessConsumers;

struct WorkerOptions {
  std::string master_url = "http://127.0.0.1:8010";
  // Several masters (--master URL1,URL2): tried in turn, the next one each time the link is
  // lost; empty means master_url alone.
  std::vector<std::string> master_urls;
  std::map<std::string, std::string> consumers;  // consume steps: name -> command
  std::string name;
  std::string secret;
  std::string workdir = ".";
  int capacity = 0;  // 0: as configured on the master
  // Consumers compiled into this process (C++ SDK); they win over a command of the same name.
  std::shared_ptr<InProcessConsumers> in_process;
};

// Runs until SIGINT/SIGTERM, or until the master refuses the worker (an error is returned).
Status RunWorker(const WorkerOptions& opts);

}  // namespace grove
