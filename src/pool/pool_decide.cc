#include "pool/pool_decide.h"

#include <algorithm>
#include <set>

namespace grove::pool {

namespace {

Instance* Find(PoolState* state, const std::string& name) {
  for (Instance& i : state->instances)
    if (i.name == name) return &i;
  return nullptr;
}

void Enter(Instance& i, InstanceState s, int64_t now) {
  i.state = s;
  i.since = now;
}

// A started instance that does not come up: counted, and the next start waits.
void FailStart(PoolState* state, Instance& i, const std::string& why, int64_t now) {
  ++state->failures;
  ++state->failed_total;
  state->backoff_until = now + BackoffMs(state->failures);
  state->last_error = i.name + ": " + why;
  state->last_failure_at = now;
  Enter(i, InstanceState::kFailed, now);
}

std::string Seconds(int64_t s) {
  return std::to_string(s) + "s";
}

}  // namespace

const char* StateName(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kIdle:
      return "idle";
    case InstanceState::kBusy:
      return "busy";
    case InstanceState::kDisconnected:
      return "disconnected";
    case InstanceState::kDraining:
      return "draining";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kFailed:
      return "failed";
  }
  return "unknown";
}

bool TakesNoJob(InstanceState s) {
  return s == InstanceState::kDraining || s == InstanceState::kStopping ||
         s == InstanceState::kFailed;
}

int64_t BackoffMs(int failures) {
  int64_t ms = 5000;
  for (int i = 1; i < failures && ms < 300000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 300000);
}

const Instance* FindInstance(const PoolState& state, const std::string& name) {
  for (const Instance& i : state.instances)
    if (i.name == name) return &i;
  return nullptr;
}

std::vector<Action> Decide(const std::string& pool_name, const OnDemandConfig& cfg, int capacity,
                           const Snapshot& snap, PoolState* state) {
  std::vector<Action> actions;
  const int64_t now = snap.now;
  const int64_t start_timeout_ms = cfg.start_timeout_s * 1000;
  auto stop = [&](Instance& i, InstanceState s, std::string why) {
    Enter(i, s, now);
    actions.push_back({ActionKind::kStop, i.name, i.id, std::move(why)});
  };

  // 1. What each instance became.
  for (Instance& i : state->instances) {
    auto seen = snap.connected.find(i.name);
    const bool connected = seen != snap.connected.end();
    if (connected) {
      i.running = seen->second.running;
      i.idle_since = std::max(i.idle_since, seen->second.last_job_at);
    } else {
      i.running = 0;
    }
    switch (i.state) {
      case InstanceState::kStarting:
      case InstanceState::kDisconnected:
        if (connected) {
          // Proof that starting works again: an instance started after the last failure.
          if (i.state == InstanceState::kStarting && !i.recovered &&
              i.started_at >= state->last_failure_at) {
            state->failures = 0;
            state->backoff_until = 0;
          }
          i.recovered = false;
          i.idle_since = std::max(i.idle_since, now);
          Enter(i, i.running > 0 ? InstanceState::kBusy : InstanceState::kIdle, now);
        } else if (i.state == InstanceState::kDisconnected) {
          if (now - i.since >= snap.reconnect_grace_ms)
            stop(i, InstanceState::kStopping, "disconnected and did not come back");
        } else if (now - i.since >= start_timeout_ms) {
          if (i.recovered) {
            stop(i, InstanceState::kStopping,
                 "did not reconnect within " + Seconds(cfg.start_timeout_s) +
                     " of the master's start");
          } else {
            FailStart(state, i, "did not connect within " + Seconds(cfg.start_timeout_s), now);
            actions.push_back({ActionKind::kStop, i.name, i.id, "start timed out"});
          }
        }
        break;
      case InstanceState::kIdle:
      case InstanceState::kBusy:
        if (!connected) {
          Enter(i, InstanceState::kDisconnected, now);
        } else if (i.running > 0) {
          if (i.state != InstanceState::kBusy) Enter(i, InstanceState::kBusy, now);
        } else if (i.state == InstanceState::kBusy) {
          i.idle_since = now;
          Enter(i, InstanceState::kIdle, now);
        }
        break;
      case InstanceState::kDraining:
        if (i.running == 0) stop(i, InstanceState::kStopping, "drained");
        break;
      case InstanceState::kStopping:
      case InstanceState::kFailed:
        break;
    }
  }

  // 2. Starts: for the requests waiting beyond what the starting instances will take, and to
  // keep |min| warm; never more than |max| instances alive (stopping ones included: their
  // machines may still run).
  int alive = static_cast<int>(state->instances.size());
  int live = 0, starting = 0;
  for (const Instance& i : state->instances) {
    if (!TakesNoJob(i.state)) ++live;
    if (i.state == InstanceState::kStarting) ++starting;
  }
  const int cap = std::max(1, capacity);
  if (now >= state->backoff_until) {
    const int uncovered = std::max(0, snap.waiting - starting * cap);
    int want = std::max(cfg.min - live, (uncovered + cap - 1) / cap);
    // After a failed start, one probe at a time until one connects.
    if (state->failures > 0) want = std::min(want, 1 - starting);
    want = std::min(want, cfg.max - alive);
    std::set<std::string> taken;
    for (const Instance& i : state->instances) taken.insert(i.name);
    for (int n = 1; want > 0 && n <= cfg.max; ++n) {
      std::string name = pool_name + "-" + std::to_string(n);
      if (taken.count(name)) continue;
      Instance i;
      i.name = name;
      // Unique over the pool's life and across master restarts (the time), and within one
      // millisecond (the count).
      i.id = name + "-" + std::to_string(now) + "-" + std::to_string(++state->started_total);
      i.started_at = i.since = i.idle_since = now;
      actions.push_back({ActionKind::kStart, i.name, i.id,
                         live < cfg.min ? "keeping min warm" : "requests waiting"});
      state->instances.push_back(std::move(i));
      ++live;
      --want;
    }
  }

  // 3. Stops: an instance idle for |idle| while nothing waits, as long as |min| stay.
  if (snap.waiting == 0) {
    for (Instance& i : state->instances) {
      if (live <= cfg.min) break;
      if (i.state == InstanceState::kIdle && now - i.idle_since >= cfg.idle_s * 1000) {
        stop(i, InstanceState::kStopping, "idle for " + Seconds((now - i.idle_since) / 1000));
        --live;
      }
    }
  }
  return actions;
}

}  // namespace grove::pool

namespace grove::pool {

std::vector<Action> OnStartDone(PoolState* state, const std::string& name, bool ok,
                                const std::string& error, int64_t now) {
  Instance* i = Find(state, name);
  if (!i) return {};
  if (ok) {
    i->start_done = true;
    return {};
  }
  if (i->state != InstanceState::kStarting) return {};  // timed out (and stopped) already
  FailStart(state, *i, error, now);
  return {{ActionKind::kStop, i->name, i->id, "start failed"}};
}

void OnStopDone(PoolState* state, const std::string& name) {
  std::erase_if(state->instances, [&](const Instance& i) { return i.name == name; });
}

void Drain(PoolState* state, const std::string& name, int64_t now) {
  Instance* i = Find(state, name);
  if (i && !TakesNoJob(i->state)) Enter(*i, InstanceState::kDraining, now);
}

}  // namespace grove::pool
