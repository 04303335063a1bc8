// The master's metrics (GET /metrics, docs/operations.md "Metrics"): one process-wide set, so
// that the places where things happen (the controller, the core loop, the notifier lanes, the
// broker) record them with a one-line call and no plumbing.
//
// Events (a build finished, a commit) are recorded when they happen; states (queue lengths,
// workers) are read at scrape time from the controller on the core loop (SetQueueState) so that
// they agree with the API at that moment.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace grove::metrics {

// --- events (cheap: atomics; the controller's and the core loop's families are owned by the
// core loop's thread) ---
void BuildFinished(const std::string& builder, const std::string& result, double seconds);
void StepFinished(double seconds);
void QueueWait(double seconds);
void StoreCommit(double seconds);
// A notice delivery attempt ended: outcome "sent" | "retrying" | "failed".
void NotifierDelivery(const std::string& notifier, const std::string& kind,
                      const std::string& outcome);
// Rows (or files) the retention pruner removed: what = "builds" | "logs" | "artifacts" |
// "changes".
void Pruned(const std::string& what, uint64_t n);

// --- states, set whole ---
struct QueueState {
  std::map<std::string, int64_t> queued_by_builder;  // every configured builder, 0 included
  std::map<std::string, int64_t> queued_by_tags;     // "linux,x86" (sorted tags, comma-joined)
  int64_t running = 0;
  int64_t workers_configured = 0;
  int64_t workers_connected = 0;
  int64_t workers_busy = 0;  // running at least one job
  int64_t workers_paused = 0;
};
void SetQueueState(const QueueState& s);

// On-demand pools (src/pool) report their instances: for worker |worker| the number in each
// state ("starting", "running", "idle", "stopping", "failed", ...). A state left out reads 0;
// an empty map removes the worker's series (it left grove.lua). Any thread.
void SetOnDemandInstances(const std::string& worker,
                          const std::map<std::string, int64_t>& by_state);

// RabbitMQ (distributed mode): messages waiting in each queue, and in the dead-letter queue.
void SetAmqpDepths(const std::map<std::string, int64_t>& by_queue, int64_t dead_letters);

// The home page's charts: queue depth and busy workers sampled every ~30 s, the last hour kept
// in memory (a restarted master starts a new hour).
struct Sample {
  int64_t at_ms = 0;
  int64_t queued = 0;
  int64_t running = 0;
  int64_t workers_connected = 0;
  int64_t workers_busy = 0;
};
constexpr int64_t kSampleEveryMs = 30000;
constexpr size_t kSamplesKept = 120;  // one hour
void RecordSample(const Sample& s);
std::vector<Sample> Samples();

// The text exposition of everything, with the process's CPU time and resident memory read now.
std::string Render();

}  // namespace grove::metrics
