// The worker in distributed mode (`grove worker --broker AMQP-URL`): consumes the job queues of
// its tag subsets from RabbitMQ (prefetch = capacity), runs each job with the JobRunner, and
// publishes its events to the events exchange. A job message is acknowledged only after its
// job.finished event was confirmed by the broker, so a worker killed mid-job leaves the job to
// RabbitMQ, which delivers it again (docs/protocol.md, "Distributed mode").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

class InProcessConsumers;

struct AmqpWorkerOptions {
  std::string broker_url;
  std::string name;
  std::string secret;
  // Empty / 0: learned from the master's welcome (the worker's entry in grove.lua); until then
  // the worker takes untagged jobs, one at a time.
  std::vector<std::string> tags;
  std::string workdir = ".";
  int capacity = 0;
  std::string master_url;  // for artifact and trigger steps (HTTP); may stay empty
  std::map<std::string, std::string> consumers;    // consume steps: name -> command
  std::shared_ptr<InProcessConsumers> in_process;  // C++ SDK consumers; may be null
};

// Runs until SIGINT/SIGTERM. An error at start only for what waiting cannot fix (a TLS file, a
// login or vhost the broker refuses); a broker that is down is retried until it answers.
Status RunAmqpWorker(const AmqpWorkerOptions& opts);

}  // namespace grove
