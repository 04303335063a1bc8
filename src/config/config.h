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

// worker "burst" { on_demand = { ... } }: the master starts and stops instances of the worker
// (named burst-1 ... burst-MAX) with the operator's commands (src/pool, docs/operations.md).
struct OnDemandConfig {
  bool enabled = false;
  std::vector<std::string> start;  // argv
  std::vector<std::string> stop;   // argv
  int max = 1;
  int min = 0;
  int64_t idle_s = 300;           // an instance idle this long is drained and stopped
  int64_t start_timeout_s = 180;  // an instance not connected by then is a failed start
};

struct WorkerConfig {
  std::string name;
  std::string secret;  // resolved value; never logged
  std::vector<std::string> tags;
  int capacity = 1;
  std::string where;
  OnDemandConfig on_demand;
};

// A lock a builder takes for its whole build (lock.master / lock.worker in grove.lua).
struct LockUse {
  std::string kind;  // "master" | "worker"
  std::string name;
  int max = 1;  // how many builds may hold it at once (per worker for "worker")
};

// retention { logs = "90d", builds = "2y", artifacts = "30d", changes = "1y" }: how long
// finished builds' logs, the builds themselves, their artifacts and the changes are kept, in ms;
// 0 = forever. In a builder's own retention table, -1 = as the global setting (and changes,
// shared by all builders, are global only).
struct RetentionConfig {
  int64_t logs_ms = 0;
  int64_t builds_ms = 0;
  int64_t artifacts_ms = 0;
  int64_t changes_ms = 0;
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
  RetentionConfig retention{-1, -1, -1, -1};  // overrides of the global retention (-1: none)
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

// --- Notifiers (notify.email, notify.irc, notify.webhook, notify.status; issue 11) ----------

// What every notifier has: which builds it tells about, how its message reads, how it retries.
struct NotifierCommon {
  std::string name;                   // unique among notifiers; default "email", "email-2", ...
  std::vector<std::string> builders;  // names or globs; empty = every builder
  // "failing" | "passing" | "problem" | "change" | "warnings" | "exception" | "cancelled" |
  // "all"; the default depends on the kind (see docs/config.md)
  std::vector<std::string> mode;
  std::vector<std::string> tags;   // only builders with one of these tags; empty = any
  std::string message;             // message template ("" = the built-in one)
  int log_lines = 20;              // lines of the failing step's log in the message
  int max_attempts = 8;            // then the notice is marked failed
  int64_t retry_delay_ms = 10000;  // first retry; doubles each time
  int64_t max_retry_delay_ms = 600000;
  int64_t timeout_ms = 30000;  // one attempt (connect + send)
  std::string where;
};

struct SmtpConfig {
  std::string host = "localhost";
  int port = 0;                  // 0: 587 for starttls, 465 for implicit, 25 for none
  std::string tls = "starttls";  // "starttls" | "implicit" | "none"
  std::string user;
  std::string password;  // resolved value; never logged
  std::string ca_file;   // CA bundle to verify the server by; "" = the system's
};

struct EmailNotifierConfig {
  NotifierCommon common;
  std::vector<std::string> to;  // addresses
  std::string from;             // address, optionally "Name <address>"
  SmtpConfig smtp;
  std::string subject;           // template; "" = the built-in one
  bool send_to_authors = false;  // the authors of the build's changes too
};

struct IrcNotifierConfig {
  NotifierCommon common;
  std::string server;
  int port = 0;  // 0: 6697 with tls, 6667 without
  bool tls = false;
  std::string ca_file;
  std::string nick = "grove";
  std::string password;  // server password (PASS); never logged
  std::vector<std::string> channels;
  bool notice = false;                   // NOTICE instead of PRIVMSG for announcements
  std::vector<std::string> allow_force;  // nicks that may use "force"
};

struct WebhookNotifierConfig {
  NotifierCommon common;
  std::string url;
  std::string secret;           // HMAC-SHA256 key; "" = unsigned; never logged
  std::string format = "json";  // "json" | "slack" | "mattermost"
  std::string ca_file;
};

struct StatusNotifierConfig {
  NotifierCommon common;
  std::string provider;  // "github" | "gitlab" | "gitea"
  std::string url;       // API root (github) or server root (gitlab, gitea)
  std::string token;     // never logged
  std::string repo;      // "owner/name"; "" = from the change's repository URL
  std::string context;   // template; "" = "grove/${build.builder}"
  std::string ca_file;
};

struct NotifyConfig {
  std::vector<EmailNotifierConfig> email;
  std::vector<IrcNotifierConfig> irc;
  std::vector<WebhookNotifierConfig> webhook;
  std::vector<StatusNotifierConfig> status;
  bool empty() const { return email.empty() && irc.empty() && webhook.empty() && status.empty(); }
};

struct WebConfig {
  std::string listen = "127.0.0.1:8010";
  // The users file (relative to the master directory); see docs/web.md.
  std::string users = "users";
  // What a visitor who has not logged in may do once users exist: "viewer" or "none".
  std::string anonymous = "viewer";
  // Open connections at most (HTTP, live-update streams, workers); see docs/config.md.
  int64_t max_connections = 1000;
  // Who may read GET /metrics: "loopback" | "public" | "users" | "off" (docs/config.md).
  std::string metrics = "loopback";
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
  RetentionConfig retention;                       // retention { ... }
  NotifyConfig notify;

  const BuilderConfig* FindBuilder(const std::string& name) const;
  const WorkerConfig* FindWorker(const std::string& name) const;
  // The declared worker |name| is, or whose on-demand instance it is ("burst-3" of "burst",
  // numbers 1..max); nullptr when neither.
  const WorkerConfig* FindWorkerOrInstance(const std::string& name) const;
};

// Loads and validates |path| (normally DIR/grove.lua). On error the message has the form
// "grove.lua:12: builder 'x': unknown step option 'tiemout'".
Status LoadConfig(const std::string& path, Config* out);

}  // namespace grove
