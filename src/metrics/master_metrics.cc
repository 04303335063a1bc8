#include "metrics/master_metrics.h"

#include <deque>
#include <mutex>

#include "metrics/process_stats.h"
#include "metrics/registry.h"

namespace grove::metrics {

namespace {

const std::vector<double> kBuildBuckets = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200};
const std::vector<double> kStepBuckets = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
const std::vector<double> kWaitBuckets = {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
const std::vector<double> kCommitBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,   0.1,   0.25,   0.5,   1,    2.5};

// Label names are kept to what a user filters on; nothing per build, per request or per step
// (unbounded), no step names (free text).
struct Set {
  Registry registry;
  Family* queued = registry.Add(Kind::kGauge, "grove_requests_queued",
                                "Build requests waiting for a worker, per builder.", {"builder"});
  Family* queued_tags = registry.Add(
      Kind::kGauge, "grove_requests_queued_by_tags",
      "Build requests waiting for a worker, per tag set the builder needs (comma-joined).",
      {"tags"});
  Family* running = registry.Add(Kind::kGauge, "grove_builds_running", "Builds running now.", {});
  Family* finished = registry.Add(Kind::kCounter, "grove_builds_finished_total",
                                  "Builds finished since the master started, per result.",
                                  {"builder", "result"}, {}, true);
  Family* build_seconds = registry.Add(Kind::kHistogram, "grove_build_duration_seconds",
                                       "Duration of the builds finished since the master started.",
                                       {"result"}, kBuildBuckets, true);
  Family* step_seconds = registry.Add(Kind::kHistogram, "grove_step_duration_seconds",
                                      "Duration of the steps finished since the master started.",
                                      {}, kStepBuckets, true);
  Family* wait_seconds = registry.Add(
      Kind::kHistogram, "grove_queue_wait_seconds",
      "Time from a build request's submission to its claim by a worker.", {}, kWaitBuckets, true);
  Family* workers = registry.Add(
      Kind::kGauge, "grove_workers",
      "Workers by state: configured, connected, busy (running a job), paused.", {"state"});
  Family* ondemand = registry.Add(Kind::kGauge, "grove_ondemand_instances",
                                  "On-demand worker instances by state, per on-demand worker.",
                                  {"worker", "state"});
  Family* amqp_depth =
      registry.Add(Kind::kGauge, "grove_amqp_queue_messages",
                   "Messages waiting in a RabbitMQ queue (distributed mode).", {"queue"});
  Family* dead_letters =
      registry.Add(Kind::kGauge, "grove_amqp_dead_letters",
                   "Messages in RabbitMQ's dead-letter queue (distributed mode).", {});
  Family* deliveries =
      registry.Add(Kind::kCounter, "grove_notifier_deliveries_total",
                   "Notice delivery attempts per notifier and outcome (sent, retrying, failed).",
                   {"notifier", "kind", "outcome"});
  Family* commit_seconds =
      registry.Add(Kind::kHistogram, "grove_store_commit_seconds",
                   "Time the core loop's store commits take (one per batch of tasks).", {},
                   kCommitBuckets, true);
  Family* pruned = registry.Add(Kind::kCounter, "grove_retention_pruned_total",
                                "Rows and files removed by the retention pruner.", {"what"});
  Family* cpu = registry.Add(Kind::kCounter, "process_cpu_seconds_total",
                             "User and system CPU time of the master, in seconds.", {});
  Family* rss = registry.Add(Kind::kGauge, "process_resident_memory_bytes",
                             "Resident memory of the master, in bytes.", {});
  Family* fds = registry.Add(Kind::kGauge, "process_open_fds", "Open file descriptors.", {});
  Family* start = registry.Add(Kind::kGauge, "process_start_time_seconds",
                               "Start time of the master since the epoch, in seconds.", {});

  std::mutex samples_mu;
  std::deque<Sample> samples;
  std::mutex ondemand_mu;
  std::map<std::string, std::map<std::string, int64_t>> ondemand_by_worker;
};

Set& Get() {
  static Set* set = new Set();  // never destroyed: threads may record while the process exits
  return *set;
}

}  // namespace

void BuildFinished(const std::string& builder, const std::string& result, double seconds) {
  Set& s = Get();
  s.finished->counter({builder, result}).Inc();
  if (seconds >= 0) s.build_seconds->histogram({result}).Observe(seconds);
}

void StepFinished(double seconds) {
  if (seconds >= 0) Get().step_seconds->histogram().Observe(seconds);
}

void QueueWait(double seconds) {
  if (seconds >= 0) Get().wait_seconds->histogram().Observe(seconds);
}

void StoreCommit(double seconds) {
  Get().commit_seconds->histogram().Observe(seconds);
}

void NotifierDelivery(const std::string& notifier, const std::string& kind,
                      const std::string& outcome) {
  Get().deliveries->counter({notifier, kind, outcome}).Inc();
}

void Pruned(const std::string& what, uint64_t n) {
  Get().pruned->counter({what}).Inc(n);
}

void SetQueueState(const QueueState& q) {
  Set& s = Get();
  std::vector<std::pair<Labels, double>> v;
  v.reserve(q.queued_by_builder.size());
  for (const auto& [b, n] : q.queued_by_builder) v.push_back({{b}, static_cast<double>(n)});
  s.queued->ReplaceGauges(v);
  v.clear();
  for (const auto& [t, n] : q.queued_by_tags) v.push_back({{t}, static_cast<double>(n)});
  s.queued_tags->ReplaceGauges(v);
  s.running->gauge().Set(static_cast<double>(q.running));
  s.workers->ReplaceGauges({{{"configured"}, static_cast<double>(q.workers_configured)},
                            {{"connected"}, static_cast<double>(q.workers_connected)},
                            {{"busy"}, static_cast<double>(q.workers_busy)},
                            {{"paused"}, static_cast<double>(q.workers_paused)}});
}

void SetOnDemandInstances(const std::string& worker,
                          const std::map<std::string, int64_t>& by_state) {
  Set& s = Get();
  std::lock_guard lock(s.ondemand_mu);
  if (by_state.empty())
    s.ondemand_by_worker.erase(worker);
  else
    s.ondemand_by_worker[worker] = by_state;
  std::vector<std::pair<Labels, double>> v;
  for (const auto& [w, states] : s.ondemand_by_worker)
    for (const auto& [state, n] : states) v.push_back({{w, state}, static_cast<double>(n)});
  s.ondemand->ReplaceGauges(v);
}

void SetAmqpDepths(const std::map<std::string, int64_t>& by_queue, int64_t dead_letters) {
  Set& s = Get();
  std::vector<std::pair<Labels, double>> v;
  for (const auto& [q, n] : by_queue) v.push_back({{q}, static_cast<double>(n)});
  s.amqp_depth->ReplaceGauges(v);
  s.dead_letters->gauge().Set(static_cast<double>(dead_letters));
}

void RecordSample(const Sample& sample) {
  Set& s = Get();
  std::lock_guard lock(s.samples_mu);
  s.samples.push_back(sample);
  while (s.samples.size() > kSamplesKept) s.samples.pop_front();
}

std::vector<Sample> Samples() {
  Set& s = Get();
  std::lock_guard lock(s.samples_mu);
  return {s.samples.begin(), s.samples.end()};
}

std::string Render() {
  Set& s = Get();
  ProcessStats p;
  if (ReadProcessStats(&p)) {
    s.cpu->counter().RaiseTo(p.cpu_seconds);
    s.rss->gauge().Set(p.resident_bytes);
    s.fds->gauge().Set(p.open_fds);
    s.start->gauge().Set(p.start_time_seconds);
  }
  return s.registry.Render();
}

}  // namespace grove::metrics
