#include "config/config_json.h"

#include <limits>
#include <utility>

namespace grove {

namespace {

// ---- writing -------------------------------------------------------------------------------

Json StepJson(const StepSpec& s) {
  return {{"name", s.name},
          {"type", s.type},
          {"command", s.command},
          {"argv", s.argv},
          {"env", s.env},
          {"workdir", s.workdir},
          {"timeout_s", s.timeout_s},
          {"halt_on_failure", s.halt_on_failure},
          {"options", s.options}};
}

template <class T, class Fn>
Json ListJson(const std::vector<T>& items, Fn fn) {
  Json out = Json::array();
  for (const T& item : items) out.push_back(fn(item));
  return out;
}

Json OnDemandJson(const OnDemandConfig& o) {
  return {{"enabled", o.enabled},
          {"start", o.start},
          {"stop", o.stop},
          {"max", o.max},
          {"min", o.min},
          {"idle_s", o.idle_s},
          {"start_timeout_s", o.start_timeout_s}};
}

Json WorkerJson(const WorkerConfig& w) {
  return {{"name", w.name},         {"secret", w.secret}, {"tags", w.tags},
          {"capacity", w.capacity}, {"where", w.where},   {"on_demand", OnDemandJson(w.on_demand)}};
}

Json LockJson(const LockUse& l) {
  return {{"kind", l.kind}, {"name", l.name}, {"max", l.max}};
}

Json RetentionJson(const RetentionConfig& r) {
  return {{"logs_ms", r.logs_ms},
          {"builds_ms", r.builds_ms},
          {"artifacts_ms", r.artifacts_ms},
          {"changes_ms", r.changes_ms}};
}

Json BuilderJson(const BuilderConfig& b) {
  return {{"name", b.name},
          {"tags", b.tags},
          {"workers", b.workers},
          {"steps", ListJson(b.steps, StepJson)},
          {"properties", b.properties},
          {"priority", b.priority},
          {"locks", ListJson(b.locks, LockJson)},
          {"collapse", b.collapse},
          {"retention", RetentionJson(b.retention)},
          {"where", b.where}};
}

Json ForceParamJson(const ForceParamConfig& p) {
  return {{"name", p.name},
          {"default_value", p.default_value},
          {"choices", p.choices},
          {"required", p.required}};
}

Json ForceJson(const ForceSchedulerConfig& f) {
  return {{"name", f.name},
          {"builders", f.builders},
          {"params", ListJson(f.params, ForceParamJson)},
          {"where", f.where}};
}

Json CronJson(const CronSchedulerConfig& c) {
  return {{"name", c.name},         {"expr", c.expr},         {"tz", c.tz},
          {"builders", c.builders}, {"catch_up", c.catch_up}, {"properties", c.properties},
          {"where", c.where}};
}

Json PeriodicJson(const PeriodicSchedulerConfig& p) {
  return {{"name", p.name},         {"every_s", p.every_s},
          {"builders", p.builders}, {"only_if_changed", p.only_if_changed},
          {"catch_up", p.catch_up}, {"properties", p.properties},
          {"where", p.where}};
}

Json OnChangeJson(const OnChangeSchedulerConfig& o) {
  return {{"name", o.name},
          {"source", o.source},
          {"branches", o.branches},
          {"files", o.files},
          {"tree_stable_s", o.tree_stable_s},
          {"builders", o.builders},
          {"properties", o.properties},
          {"where", o.where}};
}

Json TriggerableJson(const TriggerableSchedulerConfig& t) {
  return {{"name", t.name}, {"builders", t.builders}, {"where", t.where}};
}

Json GitSourceJson(const GitSourceConfig& g) {
  return {{"url", g.url}, {"branches", g.branches}, {"poll_s", g.poll_s}, {"where", g.where}};
}

Json NotifierCommonJson(const NotifierCommon& c) {
  return {{"name", c.name},
          {"builders", c.builders},
          {"mode", c.mode},
          {"tags", c.tags},
          {"message", c.message},
          {"log_lines", c.log_lines},
          {"max_attempts", c.max_attempts},
          {"retry_delay_ms", c.retry_delay_ms},
          {"max_retry_delay_ms", c.max_retry_delay_ms},
          {"timeout_ms", c.timeout_ms},
          {"where", c.where}};
}

Json EmailJson(const EmailNotifierConfig& e) {
  return {{"common", NotifierCommonJson(e.common)},
          {"to", e.to},
          {"from", e.from},
          {"smtp",
           {{"host", e.smtp.host},
            {"port", e.smtp.port},
            {"tls", e.smtp.tls},
            {"user", e.smtp.user},
            {"password", e.smtp.password},
            {"ca_file", e.smtp.ca_file}}},
          {"subject", e.subject},
          {"send_to_authors", e.send_to_authors}};
}

Json IrcJson(const IrcNotifierConfig& i) {
  return {{"common", NotifierCommonJson(i.common)},
          {"server", i.server},
          {"port", i.port},
          {"tls", i.tls},
          {"ca_file", i.ca_file},
          {"nick", i.nick},
          {"password", i.password},
          {"channels", i.channels},
          {"notice", i.notice},
          {"allow_force", i.allow_force}};
}

Json WebhookNotifierJson(const WebhookNotifierConfig& w) {
  return {{"common", NotifierCommonJson(w.common)},
          {"url", w.url},
          {"secret", w.secret},
          {"format", w.format},
          {"ca_file", w.ca_file}};
}

Json StatusNotifierJson(const StatusNotifierConfig& st) {
  return {{"common", NotifierCommonJson(st.common)},
          {"provider", st.provider},
          {"url", st.url},
          {"token", st.token},
          {"repo", st.repo},
          {"context", st.context},
          {"ca_file", st.ca_file}};
}

Json NotifyJson(const NotifyConfig& n) {
  return {{"email", ListJson(n.email, EmailJson)},
          {"irc", ListJson(n.irc, IrcJson)},
          {"webhook", ListJson(n.webhook, WebhookNotifierJson)},
          {"status", ListJson(n.status, StatusNotifierJson)}};
}

// ---- reading -------------------------------------------------------------------------------

// Thrown by the readers below and caught in ConfigFromJson: nothing escapes it.
struct BadField {
  std::string message;
};

[[noreturn]] void Bad(const std::string& path, const std::string& expected) {
  throw BadField{path + ": expected " + expected};
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? key : path + "." + key;
}

const Json& Field(const Json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) throw BadField{Join(path, key) + ": missing"};
  return *it;
}

void ExpectObject(const Json& j, const std::string& path) {
  if (!j.is_object()) Bad(path, "an object");
}

std::string StringAt(const Json& j, const std::string& path) {
  if (!j.is_string()) Bad(path, "a string");
  return j.get<std::string>();
}

std::string Str(const Json& obj, const char* key, const std::string& path) {
  return StringAt(Field(obj, key, path), Join(path, key));
}

int64_t Int(const Json& obj, const char* key, const std::string& path, int64_t min, int64_t max) {
  const Json& j = Field(obj, key, path);
  std::string where = Join(path, key);
  int64_t value = 0;
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      Bad(where, "an integer in range");
    value = static_cast<int64_t>(u);
  } else if (j.is_number_integer()) {
    value = j.get<int64_t>();
  } else {
    Bad(where, "an integer");
  }
  if (value < min || value > max) Bad(where, "an integer in range");
  return value;
}

int64_t Int64(const Json& obj, const char* key, const std::string& path) {
  return Int(obj, key, path, std::numeric_limits<int64_t>::min(),
             std::numeric_limits<int64_t>::max());
}

int Int32(const Json& obj, const char* key, const std::string& path) {
  return static_cast<int>(
      Int(obj, key, path, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

bool Bool(const Json& obj, const char* key, const std::string& path) {
  const Json& j = Field(obj, key, path);
  if (!j.is_boolean()) Bad(Join(path, key), "true or false");
  return j.get<bool>();
}

Json ObjectField(const Json& obj, const char* key, const std::string& path) {
  const Json& j = Field(obj, key, path);
  ExpectObject(j, Join(path, key));
  return j;
}

std::vector<std::string> StrList(const Json& obj, const char* key, const std::string& path) {
  const Json& j = Field(obj, key, path);
  std::string where = Join(path, key);
  if (!j.is_array()) Bad(where, "a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i)
    out.push_back(StringAt(j[i], where + "[" + std::to_string(i) + "]"));
  return out;
}

std::map<std::string, std::string> StrMap(const Json& obj, const char* key,
                                          const std::string& path) {
  const Json& j = Field(obj, key, path);
  std::string where = Join(path, key);
  ExpectObject(j, where);
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it)
    out[it.key()] = StringAt(it.value(), where + "." + it.key());
  return out;
}

// Reads obj[key], a list of objects, each with |read|(item, item_path).
template <class Fn>
auto List(const Json& obj, const char* key, const std::string& path, Fn read) {
  const Json& j = Field(obj, key, path);
  std::string where = Join(path, key);
  if (!j.is_array()) Bad(where, "a list");
  std::vector<decltype(read(j, where))> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string item_path = where + "[" + std::to_string(i) + "]";
    ExpectObject(j[i], item_path);
    out.push_back(read(j[i], item_path));
  }
  return out;
}

StepSpec ReadStep(const Json& j, const std::string& p) {
  StepSpec s;
  s.name = Str(j, "name", p);
  s.type = Str(j, "type", p);
  s.command = Str(j, "command", p);
  s.argv = StrList(j, "argv", p);
  s.env = StrMap(j, "env", p);
  s.workdir = Str(j, "workdir", p);
  s.timeout_s = Int(j, "timeout_s", p, 0, std::numeric_limits<int64_t>::max());
  s.halt_on_failure = Bool(j, "halt_on_failure", p);
  s.options = ObjectField(j, "options", p);
  return s;
}

WorkerConfig ReadWorker(const Json& j, const std::string& p) {
  WorkerConfig w;
  w.name = Str(j, "name", p);
  w.secret = Str(j, "secret", p);
  w.tags = StrList(j, "tags", p);
  w.capacity = Int32(j, "capacity", p);
  w.where = Str(j, "where", p);
  const Json od = ObjectField(j, "on_demand", p);
  const std::string op = Join(p, "on_demand");
  w.on_demand.enabled = Bool(od, "enabled", op);
  w.on_demand.start = StrList(od, "start", op);
  w.on_demand.stop = StrList(od, "stop", op);
  w.on_demand.max = static_cast<int>(Int(od, "max", op, 1, 1000));
  w.on_demand.min = static_cast<int>(Int(od, "min", op, 0, w.on_demand.max));
  w.on_demand.idle_s = Int(od, "idle_s", op, 0, std::numeric_limits<int64_t>::max());
  w.on_demand.start_timeout_s =
      Int(od, "start_timeout_s", op, 1, std::numeric_limits<int64_t>::max());
  return w;
}

LockUse ReadLock(const Json& j, const std::string& p) {
  LockUse l;
  l.kind = Str(j, "kind", p);
  l.name = Str(j, "name", p);
  l.max = Int32(j, "max", p);
  return l;
}

RetentionConfig ReadRetention(const Json& j, const std::string& p, int64_t min) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  RetentionConfig r;
  r.logs_ms = Int(j, "logs_ms", p, min, max);
  r.builds_ms = Int(j, "builds_ms", p, min, max);
  r.artifacts_ms = Int(j, "artifacts_ms", p, min, max);
  r.changes_ms = Int(j, "changes_ms", p, min, max);
  return r;
}

BuilderConfig ReadBuilder(const Json& j, const std::string& p) {
  BuilderConfig b;
  b.name = Str(j, "name", p);
  b.tags = StrList(j, "tags", p);
  b.workers = StrList(j, "workers", p);
  b.steps = List(j, "steps", p, ReadStep);
  b.properties = ObjectField(j, "properties", p);
  b.priority = Int32(j, "priority", p);
  b.locks = List(j, "locks", p, ReadLock);
  b.collapse = Bool(j, "collapse", p);
  b.retention = ReadRetention(ObjectField(j, "retention", p), p + ".retention", -1);
  b.where = Str(j, "where", p);
  return b;
}

ForceParamConfig ReadForceParam(const Json& j, const std::string& p) {
  ForceParamConfig f;
  f.name = Str(j, "name", p);
  f.default_value = Field(j, "default_value", p);
  f.choices = StrList(j, "choices", p);
  f.required = Bool(j, "required", p);
  return f;
}

ForceSchedulerConfig ReadForce(const Json& j, const std::string& p) {
  ForceSchedulerConfig f;
  f.name = Str(j, "name", p);
  f.builders = StrList(j, "builders", p);
  f.params = List(j, "params", p, ReadForceParam);
  f.where = Str(j, "where", p);
  return f;
}

CronSchedulerConfig ReadCron(const Json& j, const std::string& p) {
  CronSchedulerConfig c;
  c.name = Str(j, "name", p);
  c.expr = Str(j, "expr", p);
  c.tz = Str(j, "tz", p);
  c.builders = StrList(j, "builders", p);
  c.catch_up = Str(j, "catch_up", p);
  c.properties = ObjectField(j, "properties", p);
  c.where = Str(j, "where", p);
  return c;
}

PeriodicSchedulerConfig ReadPeriodic(const Json& j, const std::string& p) {
  PeriodicSchedulerConfig s;
  s.name = Str(j, "name", p);
  s.every_s = Int64(j, "every_s", p);
  s.builders = StrList(j, "builders", p);
  s.only_if_changed = Str(j, "only_if_changed", p);
  s.catch_up = Str(j, "catch_up", p);
  s.properties = ObjectField(j, "properties", p);
  s.where = Str(j, "where", p);
  return s;
}

OnChangeSchedulerConfig ReadOnChange(const Json& j, const std::string& p) {
  OnChangeSchedulerConfig o;
  o.name = Str(j, "name", p);
  o.source = Str(j, "source", p);
  o.branches = StrList(j, "branches", p);
  o.files = StrList(j, "files", p);
  o.tree_stable_s = Int64(j, "tree_stable_s", p);
  o.builders = StrList(j, "builders", p);
  o.properties = ObjectField(j, "properties", p);
  o.where = Str(j, "where", p);
  return o;
}

TriggerableSchedulerConfig ReadTriggerable(const Json& j, const std::string& p) {
  TriggerableSchedulerConfig t;
  t.name = Str(j, "name", p);
  t.builders = StrList(j, "builders", p);
  t.where = Str(j, "where", p);
  return t;
}

GitSourceConfig ReadGitSource(const Json& j, const std::string& p) {
  GitSourceConfig g;
  g.url = Str(j, "url", p);
  g.branches = StrList(j, "branches", p);
  g.poll_s = Int64(j, "poll_s", p);
  g.where = Str(j, "where", p);
  return g;
}

NotifierCommon ReadNotifierCommon(const Json& obj, const std::string& path) {
  const std::string p = Join(path, "common");
  const Json j = ObjectField(obj, "common", path);
  NotifierCommon c;
  c.name = Str(j, "name", p);
  c.builders = StrList(j, "builders", p);
  c.mode = StrList(j, "mode", p);
  c.tags = StrList(j, "tags", p);
  c.message = Str(j, "message", p);
  c.log_lines = Int32(j, "log_lines", p);
  c.max_attempts = Int32(j, "max_attempts", p);
  c.retry_delay_ms = Int64(j, "retry_delay_ms", p);
  c.max_retry_delay_ms = Int64(j, "max_retry_delay_ms", p);
  c.timeout_ms = Int64(j, "timeout_ms", p);
  c.where = Str(j, "where", p);
  return c;
}

EmailNotifierConfig ReadEmail(const Json& j, const std::string& p) {
  EmailNotifierConfig e;
  e.common = ReadNotifierCommon(j, p);
  e.to = StrList(j, "to", p);
  e.from = Str(j, "from", p);
  const std::string sp = Join(p, "smtp");
  const Json smtp = ObjectField(j, "smtp", p);
  e.smtp.host = Str(smtp, "host", sp);
  e.smtp.port = Int32(smtp, "port", sp);
  e.smtp.tls = Str(smtp, "tls", sp);
  e.smtp.user = Str(smtp, "user", sp);
  e.smtp.password = Str(smtp, "password", sp);
  e.smtp.ca_file = Str(smtp, "ca_file", sp);
  e.subject = Str(j, "subject", p);
  e.send_to_authors = Bool(j, "send_to_authors", p);
  return e;
}

IrcNotifierConfig ReadIrc(const Json& j, const std::string& p) {
  IrcNotifierConfig i;
  i.common = ReadNotifierCommon(j, p);
  i.server = Str(j, "server", p);
  i.port = Int32(j, "port", p);
  i.tls = Bool(j, "tls", p);
  i.ca_file = Str(j, "ca_file", p);
  i.nick = Str(j, "nick", p);
  i.password = Str(j, "password", p);
  i.channels = StrList(j, "channels", p);
  i.notice = Bool(j, "notice", p);
  i.allow_force = StrList(j, "allow_force", p);
  return i;
}

WebhookNotifierConfig ReadWebhookNotifier(const Json& j, const std::string& p) {
  WebhookNotifierConfig w;
  w.common = ReadNotifierCommon(j, p);
  w.url = Str(j, "url", p);
  w.secret = Str(j, "secret", p);
  w.format = Str(j, "format", p);
  w.ca_file = Str(j, "ca_file", p);
  return w;
}

StatusNotifierConfig ReadStatusNotifier(const Json& j, const std::string& p) {
  StatusNotifierConfig st;
  st.common = ReadNotifierCommon(j, p);
  st.provider = Str(j, "provider", p);
  st.url = Str(j, "url", p);
  st.token = Str(j, "token", p);
  st.repo = Str(j, "repo", p);
  st.context = Str(j, "context", p);
  st.ca_file = Str(j, "ca_file", p);
  return st;
}

NotifyConfig ReadNotify(const Json& obj, const std::string& path) {
  const std::string p = Join(path, "notify");
  const Json j = ObjectField(obj, "notify", path);
  NotifyConfig n;
  n.email = List(j, "email", p, ReadEmail);
  n.irc = List(j, "irc", p, ReadIrc);
  n.webhook = List(j, "webhook", p, ReadWebhookNotifier);
  n.status = List(j, "status", p, ReadStatusNotifier);
  return n;
}

Config ReadConfig(const Json& j) {
  ExpectObject(j, "config");
  const std::string p;
  Config c;
  c.base_dir = Str(j, "base_dir", p);
  c.file = Str(j, "file", p);
  c.project_name = Str(j, "project_name", p);
  c.project_url = Str(j, "project_url", p);
  c.store_url = Str(j, "store_url", p);
  c.store_password = Str(j, "store_password", p);
  c.broker_url = Str(j, "broker_url", p);
  c.workers = List(j, "workers", p, ReadWorker);
  c.builders = List(j, "builders", p, ReadBuilder);
  c.force_schedulers = List(j, "force_schedulers", p, ReadForce);
  c.cron_schedulers = List(j, "cron_schedulers", p, ReadCron);
  c.periodic_schedulers = List(j, "periodic_schedulers", p, ReadPeriodic);
  c.on_change_schedulers = List(j, "on_change_schedulers", p, ReadOnChange);
  c.triggerable_schedulers = List(j, "triggerable_schedulers", p, ReadTriggerable);
  c.git_sources = List(j, "git_sources", p, ReadGitSource);
  c.notify = ReadNotify(j, p);
  Json webhooks = ObjectField(j, "webhooks", p);
  c.webhooks.secrets = StrMap(webhooks, "secrets", "webhooks");
  Json web = ObjectField(j, "web", p);
  c.web.listen = Str(web, "listen", "web");
  c.web.users = Str(web, "users", "web");
  c.web.anonymous = Str(web, "anonymous", "web");
  c.web.metrics = Str(web, "metrics", "web");
  c.web.max_connections =
      Int(web, "max_connections", "web", 1, std::numeric_limits<int64_t>::max());
  c.artifact_max_bytes = Int(j, "artifact_max_bytes", p, 0, std::numeric_limits<int64_t>::max());
  c.retention = ReadRetention(ObjectField(j, "retention", p), "retention", 0);
  return c;
}

}  // namespace

Json ConfigToJson(const Config& c) {
  return {
      {"base_dir", c.base_dir},
      {"file", c.file},
      {"project_name", c.project_name},
      {"project_url", c.project_url},
      {"store_url", c.store_url},
      {"store_password", c.store_password},
      {"broker_url", c.broker_url},
      {"workers", ListJson(c.workers, WorkerJson)},
      {"builders", ListJson(c.builders, BuilderJson)},
      {"force_schedulers", ListJson(c.force_schedulers, ForceJson)},
      {"cron_schedulers", ListJson(c.cron_schedulers, CronJson)},
      {"periodic_schedulers", ListJson(c.periodic_schedulers, PeriodicJson)},
      {"on_change_schedulers", ListJson(c.on_change_schedulers, OnChangeJson)},
      {"triggerable_schedulers", ListJson(c.triggerable_schedulers, TriggerableJson)},
      {"git_sources", ListJson(c.git_sources, GitSourceJson)},
      {"notify", NotifyJson(c.notify)},
      {"webhooks", {{"secrets", c.webhooks.secrets}}},
      {"web",
       {{"listen", c.web.listen},
        {"users", c.web.users},
        {"anonymous", c.web.anonymous},
        {"metrics", c.web.metrics},
        {"max_connections", c.web.max_connections}}},
      {"artifact_max_bytes", c.artifact_max_bytes},
      {"retention", RetentionJson(c.retention)},
  };
}

Status ConfigFromJson(const Json& in, Config* out) {
  try {
    *out = ReadConfig(in);
  } catch (const BadField& e) {
    return Status::Invalid("malformed configuration: " + e.message);
  } catch (const Json::exception& e) {  // not expected: every access above is checked first
    return Status::Invalid(std::string("malformed configuration: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace grove
