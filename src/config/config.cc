#include "config/config.h"

namespace grove {

// Linear scans: a master has tens of builders and workers, and these run once per dispatch.
const BuilderConfig* Config::FindBuilder(const std::string& name) const {
  for (const BuilderConfig& b : builders)
    if (b.name == name) return &b;
  return nullptr;
}

const WorkerConfig* Config::FindWorker(const std::string& name) const {
  for (const WorkerConfig& w : workers)
    if (w.name == name) return &w;
  return nullptr;
}

const WorkerConfig* Config::FindWorkerOrInstance(const std::string& name) const {
  if (const WorkerConfig* w = FindWorker(name)) return w;
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 >= name.size() || name.size() - dash > 5)
    return nullptr;
  int n = 0;
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return nullptr;
    n = n * 10 + (name[i] - '0');
  }
  if (name[dash + 1] == '0') return nullptr;  // "burst-01" is not burst-1
  const WorkerConfig* w = FindWorker(name.substr(0, dash));
  return w && w->on_demand.enabled && n >= 1 && n <= w->on_demand.max ? w : nullptr;
}

}  // namespace grove
