#include "master/worker_registry.h"

#include <algorithm>

namespace grove {

bool WorkerFits(const ConnectedWorker& w, const BuilderConfig& builder) {
  if (!builder.workers.empty())
    return std::find_if(builder.workers.begin(), builder.workers.end(), [&](const auto& n) {
             return n == w.name || (!w.pool.empty() && n == w.pool);
           }) != builder.workers.end();
  return std::all_of(builder.tags.begin(), builder.tags.end(), [&](const std::string& t) {
    return w.tags.count(t) > 0 || (!w.os.empty() && t == "os:" + w.os);
  });
}

ConnectedWorker* WorkerRegistry::Find(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : &it->second;
}

ConnectedWorker* WorkerRegistry::FindConn(ConnId conn) {
  for (auto& [name, w] : workers_)
    if (w.conn == conn) return &w;
  return nullptr;
}

ConnectedWorker& WorkerRegistry::Add(ConnectedWorker w) {
  std::string name = w.name;
  return workers_[name] = std::move(w);
}

void WorkerRegistry::Remove(const std::string& name) {
  workers_.erase(name);
}

ConnectedWorker* WorkerRegistry::PickFor(const BuilderConfig& builder) {
  ConnectedWorker* best = nullptr;
  for (auto& [name, w] : workers_) {
    if (w.free() <= 0 || !WorkerFits(w, builder)) continue;
    if (!best || w.running.size() < best->running.size()) best = &w;
  }
  return best;
}

bool WorkerRegistry::AnyFree() const {
  return std::any_of(workers_.begin(), workers_.end(),
                     [](const auto& kv) { return kv.second.free() > 0; });
}

}  // namespace grove
