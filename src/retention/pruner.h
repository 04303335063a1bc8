// Pruner: applies retention { ... } (docs/operations.md, "Retention") off the core loop.
//
// It runs on a thread of its own with a store connection of its own, once an hour (and at
// POST /api/v1/retention/prune), and removes in small batches, each its own short write
// transaction, so the core loop never waits long for the write lock: the logs of old finished
// builds (50 builds' chunks a batch), their artifacts (rows, then files), the old builds
// themselves with their steps, tests, notices and (once buildless) finished requests (200
// builds a batch), and old changes (200 a batch). Never pruned: the newest build of every
// builder, a build whose request is still queued or running, a change a queued or running
// request was made for, and the newest change of every branch (the git poller compares with
// it). SQLite then gives the space back (PRAGMA incremental_vacuum, a bounded number of pages
// a step, and a WAL checkpoint); PostgreSQL's autovacuum does that on its own.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"
#include "core/status.h"

namespace grove {

struct PrunerOptions {
  std::string store_url;
  std::string base_dir;
  std::string store_password;
  std::string artifacts_dir;  // state/artifacts: a build's files are in <dir>/<build id>/
  int64_t every_ms = 3600 * 1000;
  int64_t first_after_ms = 60 * 1000;
  // Called on the pruner's thread after a run that removed builds: caches of the builds lists
  // learn of it as they learn of any change (an event).
  std::function<void()> on_builds_pruned;
};

class Pruner {
 public:
  Pruner(std::function<std::shared_ptr<const Config>()> config, PrunerOptions opts);
  ~Pruner();
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  void Start();
  void Stop();
  // Starts a run now (or right after the one under way). False when stopping.
  bool RunNow();
  // GET /api/v1/retention: the settings, the last run (when, how long, what it pruned, an
  // error), the totals since the master started and whether a run is under way.
  nlohmann::json Describe() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace grove
