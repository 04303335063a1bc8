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

}  // namespace grove
