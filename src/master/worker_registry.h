// WorkerRegistry: the workers connected right now, what they may run and what they are running.
// Lives on the core loop; pure bookkeeping, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "config/config.h"

namespace grove {

// One attempt at one request: what a job is called everywhere.
struct JobKey {
  int64_t request = 0;
  int attempt = 0;
  auto operator<=>(const JobKey&) const = default;
};

struct ConnectedWorker {
  std::string name;
  ConnId conn = 0;
  std::set<std::string> tags;
  std::string os;  // from its hello; a builder's tag "os:NAME" asks for it
  int capacity = 1;
  bool paused = false;
  // An on-demand instance ("burst-3") names its declared worker ("burst"); empty otherwise.
  std::string pool;
  // An on-demand instance being stopped: like paused, it is given nothing new.
  bool draining = false;
  int64_t last_job_at = 0;  // when it was last given a job (ms)
  std::set<JobKey> running;
  int64_t connected_at = 0;
  int64_t last_seen = 0;
  // Events are applied strictly in id order (docs/protocol.md, "Acknowledgements"), so the
  // stored events are always a prefix and a cumulative ack never covers one that was not.
  int64_t stored_upto = -1;   // every event up to this id is durable (-1: none seen yet)
  int64_t applied_upto = -1;  // every event up to this id is applied in the open batch
  int64_t resend_from = 0;    // a resend was asked from this id and has not arrived (0: none)
  int64_t gap_since = 0;      // when an event came after a missing one (ms; 0: no gap)
  // Distributed mode: the worker process (its hello's instance), and the event id up to which
  // the open transaction records its events as applied (Store::AdvanceAppliedEvents).
  std::string instance;
  int64_t recorded_upto = -1;

  int free() const { return paused || draining ? 0 : capacity - static_cast<int>(running.size()); }
};

class WorkerRegistry {
 public:
  ConnectedWorker* Find(const std::string& name);
  ConnectedWorker* FindConn(ConnId conn);
  ConnectedWorker& Add(ConnectedWorker w);
  void Remove(const std::string& name);

  // The connected worker with free capacity that may run |builder|, least busy first.
  ConnectedWorker* PickFor(const BuilderConfig& builder);
  bool AnyFree() const;
  const std::map<std::string, ConnectedWorker>& all() const { return workers_; }

 private:
  std::map<std::string, ConnectedWorker> workers_;
};

// True when |w| may run |builder|: named in builder.workers (an on-demand instance by its
// declared worker's name), or has every tag it asks for. The tag "os:NAME" is also satisfied by
// a worker whose hello says os NAME.
bool WorkerFits(const ConnectedWorker& w, const BuilderConfig& builder);

}  // namespace grove
