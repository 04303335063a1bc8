// The master's configuration model, as loaded from grove.lua by LoadConfig().
// Every object remembers where it was defined ("grove.lua:12") so that later validation
// errors can name the place.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

struct WorkerConfig {
  std::string name;
  std::string secret;  // resolved value; never logged
  std::vector<std::string> tags;
  int capacity = 1;
  std::string where;
};

// A lock a builder takes for its whole build (lock.master / lock.worker in grove.lua).
struct LockUse {
  std::string kind;  // "master" | "worker"
  std::string name;
  int max = 1;  // how many builds may hold it at once (per worker for "worker")
};

struct BuilderConfig {
  std::string name;
  std::vector<std::string> tags;     // a worker may run the builder if it has all these tags
  std::vector<std::string> workers;  // optional: explicit worker names
  std::vector<StepSpec> steps;
  Json properties = Json::object();
  int priority = 0;
  std::vector<LockUse> locks;
  // A newer queued request for the same branch supersedes the older queued ones.
  bool collapse = false;
  std::string where;
};

// A parameter of a force scheduler, shown in the force form and checked by the API.
struct ForceParamConfig {
  std::string name;
  Json default_value;                // null when none
  std::vector<std::string> choices;  // empty: any value
  bool required = false;
};

struct ForceSchedulerConfig {
  std::string name;
  std::vector<std::string> builders;
  std::vector<ForceParamConfig> params;
  std::string where;
};

// schedule.cron: fires at the times of a cron expression (core/cron.h) in a time zone.
struct CronSchedulerConfig {
  std::string name;
  std::string expr;
  std::string tz;  // "" = UTC
  std::vector<std::string> builders;
  std::string catch_up = "none";  // slots missed while the master was down: "none" | "once"
  Json properties = Json::object();
  std::string where;
};

// schedule.periodic: fires every |every_s| seconds (counted from the last fire).
struct PeriodicSchedulerConfig {
  std::string name;
  int64_t every_s = 0;
  std::vector<std::string> builders;
  std::string only_if_changed;  // a git source's url: fire only when it has new changes
  std::string catch_up = "none";
  Json properties = Json::object();
  std::string where;
};

// schedule.on_change: builds when a change source reports commits.
struct OnChangeSchedulerConfig {
  std::string name;
  std::string source;                 // a git source's url; "" = changes from any repository
  std::vector<std::string> branches;  // exact names or globs; empty = every branch
  std::vector<std::string> files;     // globs; empty = any change
  int64_t tree_stable_s = 0;          // wait this long without new changes, then build once
  std::vector<std::string> builders;
  Json properties = Json::object();
  std::string where;
};

// schedule.triggerable: started by trigger steps of other builds.
struct TriggerableSchedulerConfig {
  std::string name;
  std::vector<std::string> builders;
  std::string where;
};

// git { url = ..., branches = { ... }, poll = "1m" }: a polled repository (a change source).
struct GitSourceConfig {
  std::string url;
  std::vector<std::string> branches;  // exact names or globs; empty = every branch
  int64_t poll_s = 60;                // 0: not polled (changes come by webhook)
  std::string where;
};

// webhooks { github = secret "gh", ... }: the secrets of the webhook receivers. A provider
// without a secret is refused (the endpoint answers 404).
struct WebhookConfig {
  std::map<std::string, std::string> secrets;  // provider → resolved secret; never logged
};

struct WebConfig {
  std::string listen = "127.0.0.1:8010";
  // The users file (relative to the master directory); see docs/web.md.
  std::string users = "users";
  // What a visitor who has not logged in may do once users exist: "viewer" or "none".
  std::string anonymous = "viewer";
  // Open connections at most (HTTP, live-update streams, workers); see docs/config.md.
  int64_t max_connections = 1000;
};

struct Config {
  std::string base_dir;  // the master directory; relative paths are resolved against it
  std::string file;      // the config file that was loaded
  std::string project_name = "Grove";
  std::string project_url;
  std::string store_url = "sqlite:state/grove.db";
  std::string store_password;  // store { password = secret "db" }; never logged
  std::string broker_url = "embedded";
  std::vector<WorkerConfig> workers;
  std::vector<BuilderConfig> builders;
  std::vector<ForceSchedulerConfig> force_schedulers;
  std::vector<CronSchedulerConfig> cron_schedulers;
  std::vector<PeriodicSchedulerConfig> periodic_schedulers;
  std::vector<OnChangeSchedulerConfig> on_change_schedulers;
  std::vector<TriggerableSchedulerConfig> triggerable_schedulers;
  std::vector<GitSourceConfig> git_sources;
  WebhookConfig webhooks;
  WebConfig web;
  int64_t artifact_max_bytes = 100 * 1024 * 1024;  // artifacts { max_size = ... }

  const BuilderConfig* FindBuilder(const std::string& name) const;
  const WorkerConfig* FindWorker(const std::string& name) const;
};

// Loads and validates |path| (normally DIR/grove.lua). On error the message has the form
// "grove.lua:12: builder 'x': unknown step option 'tiemout'".
Status LoadConfig(const std::string& path, Config* out);

}  // namespace grove
