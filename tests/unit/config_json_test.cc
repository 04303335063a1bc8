// Config <-> JSON (src/config/config_json.cc): the form in which an evaluated grove.lua comes back
// from its child process. Every field must survive the trip, and the reader must refuse a
// missing field or a wrong type with a message naming it, never with an exception.
#include "config/config_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace grove {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Every field set to something other than its default, so that a field the writer or the reader
// forgets cannot pass unnoticed.
Config FullConfig() {
  Config c;
  c.base_dir = "/srv/grove";
  c.file = "/srv/grove/grove.lua";
  c.project_name = "SysGrove";
  c.project_url = "https://sysgrove.example";
  c.store_url = "postgresql://grove@db/grove";
  c.store_password = "db-secret";
  c.broker_url = "amqp://grove:pw@mq/grove";
  c.workers.push_back({"w1", "s3cret \"quoted\"\n", {"linux", "x64"}, 3, "grove.lua:4"});
  c.workers.push_back({"w2", "other", {}, 1, "grove.lua:5"});
  OnDemandConfig& od = c.workers.back().on_demand;
  od.enabled = true;
  od.start = {"/etc/grove/start-vm.sh", "--size", "large"};
  od.stop = {"/etc/grove/stop-vm.sh"};
  od.max = 8;
  od.min = 2;
  od.idle_s = 300;
  od.start_timeout_s = 180;

  BuilderConfig b;
  b.name = "release";
  b.tags = {"linux"};
  b.workers = {"w1", "w2"};
  StepSpec s1;
  s1.name = "build";
  s1.type = "test";
  s1.command = "make test";
  s1.argv = {"make", "-j2"};  // both set: the writer must not drop one
  s1.env = {{"CC", "gcc"}, {"TOKEN", "${secret:tok}"}};
  s1.workdir = "src";
  s1.timeout_s = 600;
  s1.halt_on_failure = false;
  s1.options = {{"junit", "out.xml"}, {"n", 1.5}, {"list", {1, "two", nullptr}}};
  StepSpec s2;
  s2.command = "true";
  b.steps = {s1, s2};
  b.properties = {{"answer", 42}, {"big", 9007199254740993LL}, {"nested", {{"ok", true}}}};
  b.priority = -7;
  b.locks = {{"master", "db", 2}, {"worker", "disk", 1}};
  b.collapse = true;
  b.retention = {86400000, -1, 3600000, -1};
  b.where = "grove.lua:7";
  c.builders.push_back(b);

  ForceSchedulerConfig f;
  f.name = "force";
  f.builders = {"release"};
  f.params.push_back({"branch", "main", {"main", "dev"}, true});
  f.params.push_back({"count", nullptr, {}, false});
  f.params.push_back({"flag", Json::array({1, 2}), {}, false});
  f.where = "grove.lua:20";
  c.force_schedulers.push_back(f);

  c.cron_schedulers.push_back(
      {"nightly", "0 3 * * *", "Europe/Rome", {"release"}, "once", {{"k", "v"}}, "grove.lua:21"});
  c.periodic_schedulers.push_back(
      {"p", 43200, {"release"}, "https://git.example/app.git", "once", {{"p", 1}}, "grove.lua:22"});
  c.on_change_schedulers.push_back({"on",
                                    "https://git.example/app.git",
                                    {"main", "release/*"},
                                    {"src/**"},
                                    30,
                                    {"release"},
                                    {{"o", false}},
                                    "grove.lua:23"});
  c.triggerable_schedulers.push_back({"t", {"release"}, "grove.lua:24"});
  c.git_sources.push_back({"https://git.example/app.git", {"main"}, 0, "grove.lua:25"});
  c.webhooks.secrets = {{"github", "gh-secret"}, {"generic", "tok"}};
  c.web.listen = "0.0.0.0:9000";
  c.web.users = "/etc/grove/users";
  c.web.anonymous = "none";
  c.web.max_connections = 77;
  c.web.metrics = "users";
  c.retention = {90LL * 86400000, 730LL * 86400000, 30LL * 86400000, 365LL * 86400000};
  c.artifact_max_bytes = 5LL << 30;

  NotifierCommon common;
  common.name = "ops";
  common.builders = {"release-*"};
  common.mode = {"problem", "exception"};
  common.tags = {"win32"};
  common.message = "${build.result}";
  common.log_lines = 7;
  common.max_attempts = 3;
  common.retry_delay_ms = 11;
  common.max_retry_delay_ms = 22;
  common.timeout_ms = 33;
  common.where = "grove.lua:40";
  EmailNotifierConfig email;
  email.common = common;
  email.to = {"dev@sysgrove.example"};
  email.from = "Grove <grove@sysgrove.example>";
  email.smtp = {"smtp.example", 2525, "implicit", "grove", "smtp-secret", "/etc/ca.pem"};
  email.subject = "[${build.builder}]";
  email.send_to_authors = true;
  c.notify.email.push_back(email);
  IrcNotifierConfig irc;
  irc.common = common;
  irc.server = "irc.example";
  irc.port = 6697;
  irc.tls = true;
  irc.ca_file = "/etc/irc-ca.pem";
  irc.nick = "grovebot";
  irc.password = "irc-secret";
  irc.channels = {"#release"};
  irc.notice = true;
  irc.allow_force = {"alice"};
  c.notify.irc.push_back(irc);
  WebhookNotifierConfig hook;
  hook.common = common;
  hook.url = "https://chat.example/hook";
  hook.secret = "hook-secret";
  hook.format = "slack";
  hook.ca_file = "/etc/hook-ca.pem";
  c.notify.webhook.push_back(hook);
  StatusNotifierConfig status;
  status.common = common;
  status.provider = "gitea";
  status.url = "https://gitea.example";
  status.token = "token-secret";
  status.repo = "team/app";
  status.context = "grove/${build.builder}";
  status.ca_file = "/etc/gitea-ca.pem";
  c.notify.status.push_back(status);
  return c;
}

void ExpectCommonEq(const NotifierCommon& a, const NotifierCommon& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.builders, b.builders);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.log_lines, b.log_lines);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.retry_delay_ms, b.retry_delay_ms);
  EXPECT_EQ(a.max_retry_delay_ms, b.max_retry_delay_ms);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.where, b.where);
}

void ExpectNotifyEq(const NotifyConfig& a, const NotifyConfig& b) {
  ASSERT_EQ(a.email.size(), b.email.size());
  for (size_t i = 0; i < a.email.size(); ++i) {
    ExpectCommonEq(a.email[i].common, b.email[i].common);
    EXPECT_EQ(a.email[i].to, b.email[i].to);
    EXPECT_EQ(a.email[i].from, b.email[i].from);
    EXPECT_EQ(a.email[i].smtp.host, b.email[i].smtp.host);
    EXPECT_EQ(a.email[i].smtp.port, b.email[i].smtp.port);
    EXPECT_EQ(a.email[i].smtp.tls, b.email[i].smtp.tls);
    EXPECT_EQ(a.email[i].smtp.user, b.email[i].smtp.user);
    EXPECT_EQ(a.email[i].smtp.password, b.email[i].smtp.password);
    EXPECT_EQ(a.email[i].smtp.ca_file, b.email[i].smtp.ca_file);
    EXPECT_EQ(a.email[i].subject, b.email[i].subject);
    EXPECT_EQ(a.email[i].send_to_authors, b.email[i].send_to_authors);
  }
  ASSERT_EQ(a.irc.size(), b.irc.size());
  for (size_t i = 0; i < a.irc.size(); ++i) {
    ExpectCommonEq(a.irc[i].common, b.irc[i].common);
    EXPECT_EQ(a.irc[i].server, b.irc[i].server);
    EXPECT_EQ(a.irc[i].port, b.irc[i].port);
    EXPECT_EQ(a.irc[i].tls, b.irc[i].tls);
    EXPECT_EQ(a.irc[i].ca_file, b.irc[i].ca_file);
    EXPECT_EQ(a.irc[i].nick, b.irc[i].nick);
    EXPECT_EQ(a.irc[i].password, b.irc[i].password);
    EXPECT_EQ(a.irc[i].channels, b.irc[i].channels);
    EXPECT_EQ(a.irc[i].notice, b.irc[i].notice);
    EXPECT_EQ(a.irc[i].allow_force, b.irc[i].allow_force);
  }
  ASSERT_EQ(a.webhook.size(), b.webhook.size());
  for (size_t i = 0; i < a.webhook.size(); ++i) {
    ExpectCommonEq(a.webhook[i].common, b.webhook[i].common);
    EXPECT_EQ(a.webhook[i].url, b.webhook[i].url);
    EXPECT_EQ(a.webhook[i].secret, b.webhook[i].secret);
    EXPECT_EQ(a.webhook[i].format, b.webhook[i].format);
    EXPECT_EQ(a.webhook[i].ca_file, b.webhook[i].ca_file);
  }
  ASSERT_EQ(a.status.size(), b.status.size());
  for (size_t i = 0; i < a.status.size(); ++i) {
    ExpectCommonEq(a.status[i].common, b.status[i].common);
    EXPECT_EQ(a.status[i].provider, b.status[i].provider);
    EXPECT_EQ(a.status[i].url, b.status[i].url);
    EXPECT_EQ(a.status[i].token, b.status[i].token);
    EXPECT_EQ(a.status[i].repo, b.status[i].repo);
    EXPECT_EQ(a.status[i].context, b.status[i].context);
    EXPECT_EQ(a.status[i].ca_file, b.status[i].ca_file);
  }
}

// ConfigToJson, through text (as on the pipe), then ConfigFromJson.
Config RoundTrip(const Config& in) {
  Json parsed = Json::parse(ConfigToJson(in).dump());
  Config out;
  Status st = ConfigFromJson(parsed, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

void ExpectStepEq(const StepSpec& a, const StepSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.argv, b.argv);
  EXPECT_EQ(a.env, b.env);
  EXPECT_EQ(a.workdir, b.workdir);
  EXPECT_EQ(a.timeout_s, b.timeout_s);
  EXPECT_EQ(a.halt_on_failure, b.halt_on_failure);
  EXPECT_EQ(a.options, b.options);
}

// Field by field, so that a failure names the field.
void ExpectConfigEq(const Config& a, const Config& b) {
  EXPECT_EQ(a.base_dir, b.base_dir);
  EXPECT_EQ(a.file, b.file);
  EXPECT_EQ(a.project_name, b.project_name);
  EXPECT_EQ(a.project_url, b.project_url);
  EXPECT_EQ(a.store_url, b.store_url);
  EXPECT_EQ(a.store_password, b.store_password);
  EXPECT_EQ(a.broker_url, b.broker_url);
  ASSERT_EQ(a.workers.size(), b.workers.size());
  for (size_t i = 0; i < a.workers.size(); ++i) {
    EXPECT_EQ(a.workers[i].name, b.workers[i].name);
    EXPECT_EQ(a.workers[i].secret, b.workers[i].secret);
    EXPECT_EQ(a.workers[i].tags, b.workers[i].tags);
    EXPECT_EQ(a.workers[i].capacity, b.workers[i].capacity);
    EXPECT_EQ(a.workers[i].where, b.workers[i].where);
  }
  ASSERT_EQ(a.builders.size(), b.builders.size());
  for (size_t i = 0; i < a.builders.size(); ++i) {
    const BuilderConfig &x = a.builders[i], &y = b.builders[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.tags, y.tags);
    EXPECT_EQ(x.workers, y.workers);
    ASSERT_EQ(x.steps.size(), y.steps.size());
    for (size_t k = 0; k < x.steps.size(); ++k) ExpectStepEq(x.steps[k], y.steps[k]);
    EXPECT_EQ(x.properties, y.properties);
    EXPECT_EQ(x.priority, y.priority);
    ASSERT_EQ(x.locks.size(), y.locks.size());
    for (size_t k = 0; k < x.locks.size(); ++k) {
      EXPECT_EQ(x.locks[k].kind, y.locks[k].kind);
      EXPECT_EQ(x.locks[k].name, y.locks[k].name);
      EXPECT_EQ(x.locks[k].max, y.locks[k].max);
    }
    EXPECT_EQ(x.collapse, y.collapse);
    EXPECT_EQ(x.retention.logs_ms, y.retention.logs_ms);
    EXPECT_EQ(x.retention.builds_ms, y.retention.builds_ms);
    EXPECT_EQ(x.retention.artifacts_ms, y.retention.artifacts_ms);
    EXPECT_EQ(x.retention.changes_ms, y.retention.changes_ms);
    EXPECT_EQ(x.where, y.where);
  }
  ASSERT_EQ(a.force_schedulers.size(), b.force_schedulers.size());
  for (size_t i = 0; i < a.force_schedulers.size(); ++i) {
    const ForceSchedulerConfig &x = a.force_schedulers[i], &y = b.force_schedulers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.builders, y.builders);
    ASSERT_EQ(x.params.size(), y.params.size());
    for (size_t k = 0; k < x.params.size(); ++k) {
      EXPECT_EQ(x.params[k].name, y.params[k].name);
      EXPECT_EQ(x.params[k].default_value, y.params[k].default_value);
      EXPECT_EQ(x.params[k].choices, y.params[k].choices);
      EXPECT_EQ(x.params[k].required, y.params[k].required);
    }
    EXPECT_EQ(x.where, y.where);
  }
  ASSERT_EQ(a.cron_schedulers.size(), b.cron_schedulers.size());
  for (size_t i = 0; i < a.cron_schedulers.size(); ++i) {
    const CronSchedulerConfig &x = a.cron_schedulers[i], &y = b.cron_schedulers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.expr, y.expr);
    EXPECT_EQ(x.tz, y.tz);
    EXPECT_EQ(x.builders, y.builders);
    EXPECT_EQ(x.catch_up, y.catch_up);
    EXPECT_EQ(x.properties, y.properties);
    EXPECT_EQ(x.where, y.where);
  }
  ASSERT_EQ(a.periodic_schedulers.size(), b.periodic_schedulers.size());
  for (size_t i = 0; i < a.periodic_schedulers.size(); ++i) {
    const PeriodicSchedulerConfig &x = a.periodic_schedulers[i], &y = b.periodic_schedulers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.every_s, y.every_s);
    EXPECT_EQ(x.builders, y.builders);
    EXPECT_EQ(x.only_if_changed, y.only_if_changed);
    EXPECT_EQ(x.catch_up, y.catch_up);
    EXPECT_EQ(x.properties, y.properties);
    EXPECT_EQ(x.where, y.where);
  }
  ASSERT_EQ(a.on_change_schedulers.size(), b.on_change_schedulers.size());
  for (size_t i = 0; i < a.on_change_schedulers.size(); ++i) {
    const OnChangeSchedulerConfig &x = a.on_change_schedulers[i], &y = b.on_change_schedulers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.branches, y.branches);
    EXPECT_EQ(x.files, y.files);
    EXPECT_EQ(x.tree_stable_s, y.tree_stable_s);
    EXPECT_EQ(x.builders, y.builders);
    EXPECT_EQ(x.properties, y.properties);
    EXPECT_EQ(x.where, y.where);
  }
  ASSERT_EQ(a.triggerable_schedulers.size(), b.triggerable_schedulers.size());
  for (size_t i = 0; i < a.triggerable_schedulers.size(); ++i) {
    EXPECT_EQ(a.triggerable_schedulers[i].name, b.triggerable_schedulers[i].name);
    EXPECT_EQ(a.triggerable_schedulers[i].builders, b.triggerable_schedulers[i].builders);
    EXPECT_EQ(a.triggerable_schedulers[i].where, b.triggerable_schedulers[i].where);
  }
  ASSERT_EQ(a.git_sources.size(), b.git_sources.size());
  for (size_t i = 0; i < a.git_sources.size(); ++i) {
    EXPECT_EQ(a.git_sources[i].url, b.git_sources[i].url);
    EXPECT_EQ(a.git_sources[i].branches, b.git_sources[i].branches);
    EXPECT_EQ(a.git_sources[i].poll_s, b.git_sources[i].poll_s);
    EXPECT_EQ(a.git_sources[i].where, b.git_sources[i].where);
  }
  EXPECT_EQ(a.webhooks.secrets, b.webhooks.secrets);
  EXPECT_EQ(a.web.listen, b.web.listen);
  EXPECT_EQ(a.web.users, b.web.users);
  EXPECT_EQ(a.web.anonymous, b.web.anonymous);
  EXPECT_EQ(a.web.max_connections, b.web.max_connections);
  EXPECT_EQ(a.web.metrics, b.web.metrics);
  EXPECT_EQ(a.retention.logs_ms, b.retention.logs_ms);
  EXPECT_EQ(a.retention.builds_ms, b.retention.builds_ms);
  EXPECT_EQ(a.retention.artifacts_ms, b.retention.artifacts_ms);
  EXPECT_EQ(a.retention.changes_ms, b.retention.changes_ms);
  EXPECT_EQ(a.artifact_max_bytes, b.artifact_max_bytes);
  ExpectNotifyEq(a.notify, b.notify);
}

TEST(ConfigJsonTest, EveryFieldSurvivesTheRoundTrip) {
  Config in = FullConfig();
  ExpectConfigEq(RoundTrip(in), in);
}

TEST(ConfigJsonTest, DefaultConfigSurvivesTheRoundTrip) {
  Config in;
  ExpectConfigEq(RoundTrip(in), in);
}

TEST(ConfigJsonTest, LoadedConfigSurvivesTheRoundTrip) {
  // What the evaluating child really sends: a config as LoadConfig makes it.
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "grove_config_json_test.XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::filesystem::create_directories(std::filesystem::path(tmpl) / "secrets");
  std::ofstream(std::filesystem::path(tmpl) / "secrets" / "wiki") << "wiki-secret\n";
  std::string path = (std::filesystem::path(tmpl) / "grove.lua").string();
  std::ofstream(path) << R"lua(
project { name = "SysGrove", url = "https://sysgrove.example" }
worker "w1" { secret = "s", tags = { "linux" }, capacity = 2 }
local app = git { url = "https://git.example/app.git", branch = "main", poll = "5m" }
local db = lock.master { "db", max = 2 }
artifacts { max_size = 1048576 }
builder "release" {
  tags = { "linux" }, locks = { db, lock.worker { "disk" } }, collapse = true, priority = 2,
  retention = { logs = "7d", artifacts = "forever" },
  properties = { answer = 42, ratio = 0.5, list = { 1, "two" } },
  steps = {
    checkout { repo = "https://git.example/app.git", branch = "main" },
    test { "make check", junit = "out.xml" },
    shell { argv = { "make", "-j2" }, env = { CC = "gcc" }, workdir = "src", timeout = "10m",
            halt_on_failure = false },
    publish { "dist/*.zip", url = "https://wiki.example/x", auth = secret "wiki" },
  },
}
schedule.force { "force", builders = { "release" } }
schedule.cron { "nightly", "0 3 * * *", tz = "Europe/Rome", builders = { "release" } }
schedule.periodic { "p", every = "12h", builders = { "release" }, only_if_changed = app }
schedule.on_change { "c", source = app, branches = { "main" }, files = "src/*",
                     tree_stable = "30s", builders = { "release" } }
schedule.triggerable { "t", builders = { "release" } }
webhooks { github = "gh-secret" }
web { listen = "127.0.0.1:9010", anonymous = "none" }
)lua";
  Config in;
  Status st = LoadConfig(path, &in);
  std::filesystem::remove_all(tmpl);
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectConfigEq(RoundTrip(in), in);
}

// Calls |visit| with every value that ConfigFromJson type-checks, and its path. The contents of
// the free-form JSON fields (properties, options, a parameter's default) are not visited.
void ForEachCheckedValue(Json& j, const std::string& path,
                         const std::function<void(Json&, const std::string&)>& visit) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key = it.key();
      std::string child = path.empty() ? key : path + "." + key;
      if (key == "default_value") continue;  // any JSON value is valid
      visit(it.value(), child);
      if (key == "properties" || key == "options") continue;
      ForEachCheckedValue(it.value(), child, visit);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string child = path + "[" + std::to_string(i) + "]";
      visit(j[i], child);
      ForEachCheckedValue(j[i], child, visit);
    }
  }
}

Json WrongTypeFor(const Json& v) {
  if (v.is_string()) return 42;
  if (v.is_number()) return "42";
  return v.is_boolean() ? Json("true") : Json(false);
}

TEST(ConfigJsonTest, EveryWrongTypeIsRefusedNamingTheField) {
  const Json good = ConfigToJson(FullConfig());
  Json paths_source = good;
  std::vector<std::string> paths;
  ForEachCheckedValue(paths_source, "", [&](Json&, const std::string& p) { paths.push_back(p); });
  ASSERT_GT(paths.size(), 100u);

  int index = 0;
  for (const std::string& path : paths) {
    Json bad = good;
    int seen = 0;
    ForEachCheckedValue(bad, "", [&](Json& v, const std::string&) {
      if (seen++ == index) v = WrongTypeFor(v);
    });
    ++index;
    Config out;
    out.project_name = "untouched";
    Status st = ConfigFromJson(bad, &out);
    EXPECT_FALSE(st.ok()) << "accepted a wrong type at " << path;
    EXPECT_TRUE(st.IsInvalid()) << path;
    EXPECT_THAT(st.message(), HasSubstr(path)) << path;
    EXPECT_EQ(out.project_name, "untouched") << "changed the output on error at " << path;
  }
}

TEST(ConfigJsonTest, EveryMissingFieldIsRefusedNamingIt) {
  const Json good = ConfigToJson(FullConfig());
  Json paths_source = good;
  std::vector<std::string> paths;
  ForEachCheckedValue(paths_source, "", [&](Json&, const std::string& p) { paths.push_back(p); });
  // The fields of objects (not list items) can go missing.
  for (const std::string& path : paths) {
    if (path.back() == ']') continue;
    // Keys of maps (a step's env, the webhook secrets) are data, not fields.
    if (path.find(".env.") != std::string::npos || path.find(".secrets.") != std::string::npos)
      continue;
    size_t dot = path.rfind('.');
    std::string parent_path = dot == std::string::npos ? "" : path.substr(0, dot);
    std::string key = dot == std::string::npos ? path : path.substr(dot + 1);
    Json bad = good;
    Json* parent = &bad;
    // Walk to the parent through "a.b[2].c".
    std::string rest = parent_path;
    while (!rest.empty()) {
      size_t end = rest.find_first_of(".[");
      std::string part = rest.substr(0, end);
      if (!part.empty()) parent = &(*parent)[part];
      if (end == std::string::npos) break;
      if (rest[end] == '[') {
        size_t close = rest.find(']', end);
        parent = &(*parent)[std::stoul(rest.substr(end + 1, close - end - 1))];
        rest = rest.substr(close + 1);
        if (!rest.empty() && rest[0] == '.') rest = rest.substr(1);
      } else {
        rest = rest.substr(end + 1);
      }
    }
    ASSERT_TRUE(parent->is_object()) << path;
    ASSERT_EQ(parent->erase(key), 1u) << path;
    Config out;
    Status st = ConfigFromJson(bad, &out);
    EXPECT_FALSE(st.ok()) << "accepted a config without " << path;
    EXPECT_THAT(st.message(), HasSubstr(path + ": missing")) << path;
  }
}

TEST(ConfigJsonTest, OutOfRangeNumbersAndNonObjectsAreRefused) {
  Json j = ConfigToJson(FullConfig());
  Config out;
  for (const Json& not_object : {Json(nullptr), Json(42), Json::array(), Json("config")}) {
    Status st = ConfigFromJson(not_object, &out);
    EXPECT_THAT(st.message(), HasSubstr("config: expected an object"));
  }
  Json bad = j;
  bad["workers"][0]["capacity"] = int64_t{1} << 40;  // not an int
  EXPECT_THAT(ConfigFromJson(bad, &out).message(),
              HasSubstr("workers[0].capacity: expected an integer in range"));
  bad = j;
  bad["builders"][0]["steps"][0]["timeout_s"] = -1;
  EXPECT_THAT(ConfigFromJson(bad, &out).message(),
              HasSubstr("builders[0].steps[0].timeout_s: expected an integer in range"));
  bad = j;
  bad["artifact_max_bytes"] = 18446744073709551615ULL;
  EXPECT_THAT(ConfigFromJson(bad, &out).message(), HasSubstr("artifact_max_bytes"));
  bad = j;
  bad["builders"][0]["priority"] = 1.5;
  EXPECT_THAT(ConfigFromJson(bad, &out).message(),
              HasSubstr("builders[0].priority: expected an integer"));
  bad = j;
  bad["builders"][0]["steps"][0] = "step";
  EXPECT_THAT(ConfigFromJson(bad, &out).message(),
              HasSubstr("builders[0].steps[0]: expected an object"));
}

TEST(ConfigJsonTest, SecretsAreInTheJson) {
  // They must reach the master through the pipe: the JSON is complete, hence secret itself.
  std::string text = ConfigToJson(FullConfig()).dump();
  EXPECT_THAT(text, HasSubstr("gh-secret"));
  EXPECT_THAT(text, HasSubstr("s3cret"));
}

}  // namespace
}  // namespace grove
