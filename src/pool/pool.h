// Pool: one on-demand worker declaration (worker "burst" { on_demand = {...} }) and its
// instances burst-1 ... burst-MAX. Lives on the master's core loop; the decisions are
// pool_decide.h's, the commands are run by the caller (off the core loop, pool_command.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "changes/bounded_child.h"
#include "config/config.h"
#include "core/protocol.h"
#include "pool/pool_command.h"
#include "pool/pool_decide.h"
#include "store/store.h"

namespace grove::pool {

// What the commands are told besides the instance: where the master is.
struct PoolEnv {
  std::string master_url;  // http://HOST:PORT (GROVE_MASTER_URL)
  std::string broker_url;  // distributed mode: the amqp:// URL (GROVE_BROKER_URL); else empty
  std::string secret_dir;  // where the worker's secret is written for GROVE_SECRET_FILE
};

// The last command run for an instance, as the API shows it.
struct CommandReport {
  std::string instance;  // name
  std::string kind;      // "start" | "stop"
  std::string result;    // "ok" or why it failed
  std::string output;    // masked of the worker's secret
  int64_t at = 0;        // when it ended (ms)
  int64_t duration_ms = 0;
};

class Pool {
 public:
  explicit Pool(WorkerConfig wc);

  const WorkerConfig& config() const { return wc_; }
  const PoolState& state() const { return state_; }
  // Applies a new declaration: instances numbered above the new max are drained.
  void Reconfigure(WorkerConfig wc, int64_t now);
  // The declaration is gone: every instance is drained and stopped, nothing new starts.
  void Remove(int64_t now);
  bool removed() const { return removed_; }

  std::vector<Action> Tick(const Snapshot& snap);
  std::vector<Action> StartDone(const std::string& name, const CommandOutcome& outcome,
                                int64_t now);
  void StopDone(const std::string& name, const CommandOutcome& outcome, int64_t now);
  // Instances a previous master started and did not stop (from the store): they are given
  // the start timeout to connect again, and stopped when they do not. Those recorded as
  // stopping are returned: their stop runs again.
  std::vector<Action> Recover(const std::vector<PoolInstanceRecord>& records, int64_t now);

  // A new connection named |name| (an instance name of this pool): Ok when this pool started it
  // and is not stopping it.
  Status Admit(const std::string& name) const;

  // The command |a| runs, with GROVE_WORKER_NAME, GROVE_MASTER_URL, GROVE_SECRET_FILE and
  // GROVE_INSTANCE in its environment. Writes the secret file when it is missing.
  Status CommandFor(const Action& a, const PoolEnv& env, BoundedCommand* cmd) const;
  // The store row of instance |name| (state "starting" | "connected" | "stopping"); false
  // when |name| is not an instance of the pool.
  bool Record(const std::string& name, PoolInstanceRecord* out) const;
  // The store's state name for |s|.
  static const char* StoredState(InstanceState s);

  void Report(CommandReport r);
  const std::vector<CommandReport>& reports() const { return reports_; }
  // The API's view: settings, backoff, instances (|describe_instance| adds what the
  // controller knows of a connected one: its jobs) and the last commands.
  Json Describe(int64_t now,
                const std::function<void(const std::string&, Json*)>& describe_instance) const;

 private:
  WorkerConfig wc_;
  PoolState state_;
  bool removed_ = false;
  std::vector<CommandReport> reports_;  // the newest last, bounded
};

}  // namespace grove::pool
