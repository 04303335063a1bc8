#include "worker/worker_flags.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>

#ifndef _WIN32
#include "broker/amqp_url.h"
#endif
#include "core/log.h"
#include "worker/agent.h"
#ifndef _WIN32
#include "worker/amqp_agent.h"
#endif
#include "worker/in_process_consumers.h"
#include "worker/link_transport.h"
#include "worker/path_utf8.h"

namespace grove {

namespace {

// The same default as the command-line client's (cli/http_client.cc, MasterUrl).
std::string MasterUrlOf(const std::string& flag) {
  std::string url = flag;
  if (url.empty())
    if (const char* env = std::getenv("GROVE_MASTER")) url = env;
  if (url.empty()) url = "http://127.0.0.1:8010";
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// --master URL1,URL2,...: each checked here, so a typo is a usage error, not a retry loop.
Status MasterUrlsOf(const std::string& flag, std::vector<std::string>* out) {
  out->clear();
  const std::string list = MasterUrlOf(flag);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string url = list.substr(start, comma - start);
    while (!url.empty() && url.front() == ' ') url.erase(url.begin());
    while (!url.empty() && (url.back() == ' ' || url.back() == '/')) url.pop_back();
    MasterAddress addr;
    if (url.empty()) return Status::Invalid("--master: an empty URL in '" + list + "'");
    if (Status st = ParseMasterUrl(url, &addr); !st.ok())
      return Status::Invalid("--master: '" + url + "': " + st.message());
    out->push_back(url);
    start = comma + 1;
  }
  return Status::Ok();
}

Status ReadSecret(const std::string& path, std::string* secret) {
  std::ifstream in(Utf8Path(path));
  if (!in) return Status::Invalid("cannot read secret file " + path);
  std::getline(in, *secret);
  while (!secret->empty() && (secret->back() == '\r' || secret->back() == ' ')) secret->pop_back();
  if (secret->empty()) return Status::Invalid("secret file " + path + " is empty");
  return Status::Ok();
}

}  // namespace

void AddWorkerFlags(CLI::App& cmd, WorkerFlags& a) {
  cmd.add_option(
      "--master", a.master,
      "The master's URL (default $GROVE_MASTER, else http://127.0.0.1:8010); several "
      "masters on one store: URL1,URL2,... (connected to one, the next when it is lost)");
  cmd.add_option("--name", a.name, "This worker's name, as in the master's grove.lua")->required();
  cmd.add_option("--secret-file", a.secret_file, "A file holding this worker's secret")->required();
  cmd.add_option("--workdir", a.workdir, "Where builds run (one directory per builder)")
      ->capture_default_str();
  cmd.add_option("--capacity", a.capacity,
                 "Jobs to run at once (default: this worker's capacity in the master's grove.lua; "
                 "with --broker, learned when the master accepts the worker, 1 until then)")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--broker", a.broker,
                 "Distributed mode: take jobs from RabbitMQ (amqp://user:pass@host:port/vhost, or "
                 "amqps://...?cacertfile=PATH for TLS)");
  cmd.add_option("--tags", a.tags,
                 "Distributed mode: the tags whose jobs to take (comma-separated; default: this "
                 "worker's tags in the master's grove.lua, learned when the master accepts the "
                 "worker, untagged jobs only until then)")
      ->delimiter(',');
  cmd.add_option("--consumer", a.consumers,
                 "NAME=COMMAND: run consume steps for NAME with COMMAND (payload JSON on stdin, "
                 "result JSON on stdout, stderr to the log); repeatable");
  cmd.add_option("--log-level", a.log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
}

Status RunWorkerWithFlags(const WorkerFlags& a, std::shared_ptr<InProcessConsumers> in_process,
                          bool* usage_error) {
  *usage_error = true;
  InitLogging("worker", a.log_level);
  WorkerOptions opts;
  GROVE_RETURN_IF_ERROR(MasterUrlsOf(a.master, &opts.master_urls));
  opts.master_url = opts.master_urls.front();
  opts.name = a.name;
  GROVE_RETURN_IF_ERROR(ReadSecret(a.secret_file, &opts.secret));
  opts.workdir = a.workdir;
  opts.capacity = a.capacity;
  for (const std::string& c : a.consumers) {
    size_t eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == c.size())
      return Status::Invalid("--consumer wants NAME=COMMAND, got '" + c + "'");
    opts.consumers[c.substr(0, eq)] = c.substr(eq + 1);
  }
  if (in_process) {
    for (const std::string& n : in_process->Names())
      if (opts.consumers.count(n))
        spdlog::warn("consumer '{}' is compiled into this worker: --consumer {}=... is ignored", n,
                     n);
    // One pool thread per job the worker runs at once (see in_process_consumers.h).
    in_process->set_max_threads(a.capacity);
  }
  opts.in_process = in_process;
  if (!a.broker.empty()) {
#ifdef _WIN32
    // No rabbitmq-c (nor OpenSSL) for Windows: the Windows worker speaks to the master only.
    return Status::Invalid(
        "--broker: distributed mode (RabbitMQ) is not available on Windows; "
        "connect to the master with --master");
#else
    amqp::AmqpUrl url;  // a malformed URL or unknown parameter is a usage error, not a failure
    if (Status st = amqp::AmqpUrl::Parse(a.broker, &url); !st.ok())
      return Status::Invalid("--broker: " + st.message());
    AmqpWorkerOptions ao;
    ao.broker_url = a.broker;
    ao.name = a.name;
    ao.secret = opts.secret;
    ao.tags = a.tags;
    ao.workdir = a.workdir;
    ao.capacity = a.capacity;  // 0: grove.lua's, from the master's welcome
    ao.consumers = opts.consumers;
    ao.in_process = in_process;
    if (!a.master.empty()) ao.master_url = opts.master_url;
    *usage_error = false;
    return RunAmqpWorker(ao);
#endif
  }
  *usage_error = false;
  return RunWorker(opts);
}

}  // namespace grove
