// What GET /metrics and the home page's charts read of the controller's memory: the queue per
// builder and per tag set, the running jobs and the workers' states, exact at that moment.
#include <algorithm>

#include "master/controller.h"

namespace grove {

void Controller::SnapshotQueue(std::function<void(const metrics::QueueState&)> done) {
  core_.Post([this, done = std::move(done)](Txn&) {
    metrics::QueueState s;
    std::map<std::string, std::string> tags_of;  // builder → its tag set's label
    for (const auto& bc : config_->builders) {
      s.queued_by_builder[bc.name] = 0;
      std::vector<std::string> tags = bc.tags;
      std::sort(tags.begin(), tags.end());
      std::string label;
      for (const auto& t : tags) label += (label.empty() ? "" : ",") + t;
      tags_of[bc.name] = label;
      s.queued_by_tags.emplace(label, 0);
    }
    for (const auto& q : queue_) {
      ++s.queued_by_builder[q.builder];
      if (auto it = tags_of.find(q.builder); it != tags_of.end()) ++s.queued_by_tags[it->second];
    }
    s.running = static_cast<int64_t>(active_.size());
    s.workers_configured = static_cast<int64_t>(config_->workers.size());
    for (const auto& [name, w] : workers_.all()) {
      ++s.workers_connected;
      if (!w.running.empty()) ++s.workers_busy;
      if (w.paused) ++s.workers_paused;
    }
    done(s);
  });
}

}  // namespace grove
