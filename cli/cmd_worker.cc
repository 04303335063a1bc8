// grove worker: run builds and jobs for a master.
#include <CLI/CLI.hpp>
#include <fstream>

#include "commands.h"
#include "core/log.h"
#include "http_client.h"
#include "worker/agent.h"
#include "worker/amqp_agent.h"

namespace grove {

namespace {

struct WorkerArgs {
  std::string master;
  std::string name;
  std::string secret_file;
  std::string workdir = "worker";
  int capacity = 0;
  std::string broker;             // distributed mode (issue 5)
  std::vector<std::string> tags;  // distributed mode: the tags whose queues it consumes
  std::string log_level = "info";
  std::vector<std::string> consumers;  // NAME=COMMAND, for consume steps
};

std::string ReadSecret(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(kExitUsage, "cannot read secret file " + path);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty()) Fail(kExitUsage, "secret file " + path + " is empty");
  return secret;
}

void Worker(const WorkerArgs& a) {
  InitLogging("worker", a.log_level);
  WorkerOptions opts;
  opts.master_url = MasterUrl(a.master);
  opts.name = a.name;
  opts.secret = ReadSecret(a.secret_file);
  opts.workdir = a.workdir;
  opts.capacity = a.capacity;
  for (const std::string& c : a.consumers) {
    size_t eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == c.size())
      Fail(kExitUsage, "--consumer wants NAME=COMMAND, got '" + c + "'");
    opts.consumers[c.substr(0, eq)] = c.substr(eq + 1);
  }
  if (!a.broker.empty()) {
    AmqpWorkerOptions ao;
    ao.broker_url = a.broker;
    ao.name = a.name;
    ao.secret = opts.secret;
    ao.tags = a.tags;
    ao.workdir = a.workdir;
    ao.capacity = a.capacity > 0 ? a.capacity : 1;
    ao.consumers = opts.consumers;
    if (!a.master.empty()) ao.master_url = opts.master_url;
    Status st = RunAmqpWorker(ao);
    if (!st.ok()) Fail(kExitFailure, st.message());
    return;
  }
  Status st = RunWorker(opts);
  if (!st.ok()) Fail(kExitFailure, st.message());
}

}  // namespace

void AddWorkerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("worker", "Run a worker that takes jobs from a master");
  auto a = std::make_shared<WorkerArgs>();
  cmd->add_option("--master", a->master,
                  "The master's URL (default $GROVE_MASTER, else http://127.0.0.1:8010)");
  cmd->add_option("--name", a->name, "This worker's name, as in the master's grove.lua")
      ->required();
  cmd->add_option("--secret-file", a->secret_file, "A file holding this worker's secret")
      ->required();
  cmd->add_option("--workdir", a->workdir, "Where builds run (one directory per builder)")
      ->capture_default_str();
  cmd->add_option("--capacity", a->capacity,
                  "Jobs to run at once (default: as configured on the master)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--broker", a->broker,
                  "Distributed mode: take jobs from RabbitMQ (amqp://user:pass@host:port/vhost)");
  cmd->add_option("--tags", a->tags, "Distributed mode: this worker's tags (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--consumer", a->consumers,
                  "NAME=COMMAND: run consume steps for NAME with COMMAND (payload JSON on stdin, "
                  "result JSON on stdout, stderr to the log); repeatable");
  cmd->add_option("--log-level", a->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([a] { Worker(*a); });
}

}  // namespace grove
