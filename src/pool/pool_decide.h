// The decisions of an on-demand worker pool (issue 13), as pure functions of the pool's state
// and a snapshot of what the master sees: which instances to start, which to drain and stop.
// No I/O and no clock here (the snapshot says what time it is), so every rule is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace grove::pool {

enum class InstanceState {
  kStarting,      // its start command ran (or runs); not connected yet
  kIdle,          // connected, running nothing
  kBusy,          // connected, running jobs
  kDisconnected,  // was connected, went away: waits for it to come back, then stops it
  kDraining,      // takes no new job; stopped once its jobs end
  kStopping,      // its stop command runs
  kFailed,        // its start failed (or it never connected): its stop command runs
};
const char* StateName(InstanceState s);

struct Instance {
  std::string name;  // "burst-3"
  std::string id;    // GROVE_INSTANCE: unique across the pool's life
  InstanceState state = InstanceState::kStarting;
  int64_t started_at = 0;  // ms
  int64_t since = 0;       // when it entered |state|
  int64_t idle_since = 0;  // when it last had nothing to run
  int running = 0;
  // Found in the store at a master start: not connected within the start timeout, it is
  // stopped without counting as a failed start.
  bool recovered = false;
  bool start_done = false;  // its start command has ended (successfully)
};

struct PoolState {
  std::vector<Instance> instances;
  int failures = 0;           // failed starts in a row (reset by an instance that connects)
  int64_t backoff_until = 0;  // no start before this (ms)
  std::string last_error;     // why the last start failed
  int64_t last_failure_at = 0;
  int64_t started_total = 0;  // instances started since the master started (ids, figures)
  int64_t failed_total = 0;
};

// What the master sees of one instance name.
struct Seen {
  int running = 0;
  int64_t last_job_at = 0;  // when a job was last given to it (ms; 0: never)
};

struct Snapshot {
  int64_t now = 0;  // ms
  // Requests waiting that this pool's worker may run and no connected worker with room can
  // take (distributed mode: the depth of the worker's RabbitMQ queues).
  int waiting = 0;
  std::map<std::string, Seen> connected;  // the instances connected now, by name
  int64_t reconnect_grace_ms = 5000;      // how long a disconnected instance may take to return
};

enum class ActionKind { kStart, kStop };
struct Action {
  ActionKind kind;
  std::string name;
  std::string id;
  std::string why;
};

// The wait before the next start after |failures| failed starts in a row: 5 s doubling up to
// 5 minutes.
int64_t BackoffMs(int failures);

// Applies |snap| to |state| and returns the commands to run. Started instances are added to
// |state| as kStarting; stopped ones become kStopping / kFailed (removed by OnStopDone).
std::vector<Action> Decide(const std::string& pool_name, const OnDemandConfig& cfg, int capacity,
                           const Snapshot& snap, PoolState* state);

// A start command ended: a failure (exit code, cannot run) makes the instance kFailed and
// returns its stop action (the half-started machine is cleaned up).
std::vector<Action> OnStartDone(PoolState* state, const std::string& name, bool ok,
                                const std::string& error, int64_t now);
// A stop command ended: the instance is forgotten (its number is free again).
void OnStopDone(PoolState* state, const std::string& name);

// Instance |name| takes nothing new and is stopped once its jobs end (its pool was removed,
// its max lowered below its number).
void Drain(PoolState* state, const std::string& name, int64_t now);

// True when the controller must give |state| of the instance no new job.
bool TakesNoJob(InstanceState s);

const Instance* FindInstance(const PoolState& state, const std::string& name);

}  // namespace grove::pool
