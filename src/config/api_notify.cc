// Notifiers, grouped in the `notify` table (issue 11):
//
//   notify.email   { to = { "dev@example.org" }, from = "grove@example.org",
//                    smtp = { host = "mail", port = 587, tls = "starttls", user = "grove",
//                             password = secret "smtp" },
//                    subject = "...", send_to_authors = true, mode = { "problem" } }
//   notify.irc     { server = "irc.libera.chat", tls = true, nick = "grove-bot",
//                    channels = { "#team" }, notice = false, allow_force = { "alice" } }
//   notify.webhook { url = "https://hooks.example/grove", secret = secret "hook",
//                    format = "json" | "slack" | "mattermost" }
//   notify.status  { provider = "github" | "gitlab" | "gitea", url = "...",
//                    token = secret "gh-token" }
//
// Every notifier also takes name, builders, mode, tags, message, log_lines, max_attempts,
// retry_delay, max_retry_delay and timeout (docs/config.md). Builder names are checked once the
// whole config has run (FinishNotifiers).
#include <algorithm>
#include <filesystem>

#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/naming.h"
#include "config/notify_check.h"
#include "config/secrets.h"
#include "config/table_reader.h"
#include "core/message_template.h"

namespace grove::config_internal {

namespace {

constexpr const char* kModes[] = {"all",    "failing",  "passing",   "problem",
                                  "change", "warnings", "exception", "cancelled"};

std::vector<std::string> AllNotifierNames(const NotifyConfig& n) {
  std::vector<std::string> names;
  for (const auto& e : n.email) names.push_back(e.common.name);
  for (const auto& i : n.irc) names.push_back(i.common.name);
  for (const auto& w : n.webhook) names.push_back(w.common.name);
  for (const auto& s : n.status) names.push_back(s.common.name);
  return names;
}

// A string or a list of strings: to = "a@b" is read as to = { "a@b" }.
std::optional<std::vector<std::string>> StringOrList(lua_State* L, TableReader& t,
                                                     const char* key) {
  int type = t.Push(key);
  std::optional<std::vector<std::string>> out;
  if (type == LUA_TSTRING)
    out = std::vector<std::string>{CheckString(L, -1, key, t.what())};
  else if (type != LUA_TNIL)
    out = CheckStringList(L, -1, key, t.what());
  lua_pop(L, 1);
  return out;
}

std::string Resolve(LoadContext& ctx, const TableReader& t, const char* key,
                    const StringOrSecret& value) {
  if (const SecretRef* ref = std::get_if<SecretRef>(&value)) {
    std::string out;
    Status st = ResolveSecret(ctx.config->base_dir, ref->name, &out);
    if (!st.ok()) throw ConfigError(t.what() + ": option '" + key + "': " + st.message());
    return out;
  }
  return std::get<std::string>(value);
}

void CheckTemplate(const TableReader& t, const char* key, const std::string& text) {
  Status st = CheckMessageTemplate(text);
  if (!st.ok())
    throw ConfigError("option '" + std::string(key) + "' in " + t.what() + ": " + st.message());
}

std::string CaFile(LoadContext& ctx, const TableReader& t, std::optional<std::string> path) {
  if (!path || path->empty()) return "";
  std::filesystem::path p(*path);
  if (p.is_relative()) p = std::filesystem::path(ctx.config->base_dir) / p;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec))
    throw ConfigError("option 'ca_file' in " + t.what() + ": no such file " + p.string());
  return p.string();
}

int PortOption(const TableReader& t, const char* key, std::optional<int64_t> port) {
  if (!port) return 0;
  if (*port < 1 || *port > 65535)
    throw ConfigError("option '" + std::string(key) + "' in " + t.what() +
                      " must be a port number from 1 to 65535, got " + std::to_string(*port));
  return static_cast<int>(*port);
}

// The options every notifier has. Reads them from |t| (marking them known); the caller reads
// its own, calls t.Finish(), then FinishCommon.
struct CommonOptions {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> builders, mode, tags;
  std::optional<std::string> message;
  std::optional<int64_t> log_lines, max_attempts, retry_delay, max_retry_delay, timeout;
};

CommonOptions ReadCommon(lua_State* L, TableReader& t) {
  CommonOptions o;
  o.name = t.String("name");
  o.builders = t.StringList("builders");
  o.mode = StringOrList(L, t, "mode");
  o.tags = t.StringList("tags");
  o.message = t.String("message");
  o.log_lines = t.Integer("log_lines");
  o.max_attempts = t.Integer("max_attempts");
  o.retry_delay = t.Seconds("retry_delay");
  o.max_retry_delay = t.Seconds("max_retry_delay");
  o.timeout = t.Seconds("timeout");
  return o;
}

NotifierCommon FinishCommon(lua_State* L, LoadContext& ctx, TableReader& t, const char* kind,
                            CommonOptions o, std::vector<std::string> default_mode) {
  NotifierCommon c;
  c.where = CallerWhere(L);
  std::vector<std::string> taken = AllNotifierNames(ctx.config->notify);
  if (o.name) {
    CheckName("notifier", *o.name);
    c.name = *o.name;
    if (std::find(taken.begin(), taken.end(), c.name) != taken.end())
      throw ConfigError("duplicate notifier '" + c.name + "': give each notify." + kind +
                        " its own name = \"...\"");
  } else {
    c.name = kind;
    for (int i = 2; std::find(taken.begin(), taken.end(), c.name) != taken.end(); ++i)
      c.name = std::string(kind) + "-" + std::to_string(i);
  }
  t.set_what("notify." + std::string(kind) + " '" + c.name + "'");
  if (o.builders) {
    if (o.builders->empty())
      throw ConfigError("option 'builders' in " + t.what() +
                        " is empty (leave it out to cover every builder)");
    c.builders = std::move(*o.builders);
  }
  c.mode = o.mode ? std::move(*o.mode) : std::move(default_mode);
  if (c.mode.empty()) throw ConfigError("option 'mode' in " + t.what() + " is empty");
  std::vector<std::string> known(std::begin(kModes), std::end(kModes));
  for (const std::string& m : c.mode)
    if (std::find(known.begin(), known.end(), m) == known.end())
      throw ConfigError("unknown mode '" + m + "' in " + t.what() + DidYouMean(m, known) +
                        "; known: all, failing, passing, problem, change, warnings, exception, "
                        "cancelled");
  c.tags = o.tags.value_or(std::vector<std::string>{});
  if (o.message) {
    CheckTemplate(t, "message", *o.message);
    c.message = *o.message;
  }
  if (o.log_lines) {
    if (*o.log_lines < 0 || *o.log_lines > 1000)
      throw ConfigError("option 'log_lines' in " + t.what() + " must be between 0 and 1000");
    c.log_lines = static_cast<int>(*o.log_lines);
  }
  if (o.max_attempts) {
    if (*o.max_attempts < 1 || *o.max_attempts > 1000)
      throw ConfigError("option 'max_attempts' in " + t.what() + " must be between 1 and 1000");
    c.max_attempts = static_cast<int>(*o.max_attempts);
  }
  if (o.retry_delay) {
    if (*o.retry_delay < 1)
      throw ConfigError("option 'retry_delay' in " + t.what() + " must be at least 1s");
    c.retry_delay_ms = *o.retry_delay * 1000;
  }
  if (o.max_retry_delay) c.max_retry_delay_ms = *o.max_retry_delay * 1000;
  if (c.max_retry_delay_ms < c.retry_delay_ms) c.max_retry_delay_ms = c.retry_delay_ms;
  if (o.timeout) {
    if (*o.timeout < 1)
      throw ConfigError("option 'timeout' in " + t.what() + " must be at least 1s");
    c.timeout_ms = *o.timeout * 1000;
  }
  return c;
}

void CheckUrl(const TableReader& t, const char* key, const std::string& url) {
  std::string why;
  if (!IsHttpUrl(url, &why))
    throw ConfigError("option '" + std::string(key) + "' in " + t.what() + " is not a valid " +
                      "http(s) URL: " + why);
}

// smtp = { host = ..., port = ..., tls = ..., user = ..., password = ..., ca_file = ... }
SmtpConfig ReadSmtp(lua_State* L, LoadContext& ctx, TableReader& parent) {
  SmtpConfig s;
  int type = parent.Push("smtp");
  if (type == LUA_TNIL) {
    lua_pop(L, 1);
    return s;
  }
  if (type != LUA_TTABLE)
    throw ConfigError("option 'smtp' in " + parent.what() +
                      " must be a table like { host = \"mail.example.org\", port = 587 }");
  TableReader t(L, -1, "smtp of " + parent.what());
  std::optional<std::string> host = t.String("host");
  std::optional<int64_t> port = t.Integer("port");
  std::optional<std::string> tls = t.String("tls");
  std::optional<std::string> user = t.String("user");
  std::optional<StringOrSecret> password = t.StringOrSecretValue("password");
  std::optional<std::string> ca_file = t.String("ca_file");
  t.Finish();
  if (host) {
    if (host->empty() || host->find_first_of(" \t/@:") != std::string::npos)
      throw ConfigError("option 'host' in " + t.what() + " is not a host name: '" + *host + "'");
    s.host = *host;
  }
  s.port = PortOption(t, "port", port);
  if (tls) {
    if (*tls != "starttls" && *tls != "implicit" && *tls != "none")
      throw ConfigError("option 'tls' in " + t.what() +
                        " must be \"starttls\", \"implicit\" or \"none\", got '" + *tls + "'");
    s.tls = *tls;
  }
  s.user = user.value_or("");
  if (password) s.password = Resolve(ctx, t, "password", *password);
  if (!s.password.empty() && s.user.empty())
    throw ConfigError(t.what() + " has a password but no user");
  s.ca_file = CaFile(ctx, t, ca_file);
  lua_pop(L, 1);
  return s;
}

int Email(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "notify.email { to = { \"dev@example.org\" }, from = \"...\" }");
  TableReader t(L, 1, "notify.email");
  CommonOptions common = ReadCommon(L, t);
  std::optional<std::vector<std::string>> to = StringOrList(L, t, "to");
  std::optional<std::string> from = t.String("from");
  SmtpConfig smtp = ReadSmtp(L, ctx, t);
  std::optional<std::string> subject = t.String("subject");
  std::optional<bool> authors = t.Bool("send_to_authors");
  t.Finish();
  EmailNotifierConfig e;
  e.common =
      FinishCommon(L, ctx, t, "email", std::move(common), {"failing", "passing", "warnings"});
  e.to = to.value_or(std::vector<std::string>{});
  e.send_to_authors = authors.value_or(false);
  if (e.to.empty() && !e.send_to_authors)
    throw ConfigError(t.what() +
                      " has nobody to write to: give to = { \"address\", ... } or "
                      "send_to_authors = true");
  for (const std::string& a : e.to)
    if (!IsMailAddress(a))
      throw ConfigError("option 'to' in " + t.what() + ": '" + a +
                        "' is not a mail address like dev@example.org");
  if (!from) t.Missing("from");
  if (!IsMailAddress(*from, /*allow_display_name=*/true))
    throw ConfigError("option 'from' in " + t.what() + ": '" + *from +
                      "' is not a mail address like grove@example.org or "
                      "\"Grove <grove@example.org>\"");
  e.from = *from;
  e.smtp = std::move(smtp);
  if (subject) {
    CheckTemplate(t, "subject", *subject);
    e.subject = *subject;
  }
  ctx.config->notify.email.push_back(std::move(e));
  return 0;
}

int Irc(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE,
               "notify.irc { server = \"irc.example.org\", channels = { \"#ci\" } }");
  TableReader t(L, 1, "notify.irc");
  CommonOptions common = ReadCommon(L, t);
  std::optional<std::string> server = t.String("server");
  std::optional<int64_t> port = t.Integer("port");
  std::optional<bool> tls = t.Bool("tls");
  std::optional<std::string> ca_file = t.String("ca_file");
  std::optional<std::string> nick = t.String("nick");
  std::optional<StringOrSecret> password = t.StringOrSecretValue("password");
  std::optional<std::vector<std::string>> channels = StringOrList(L, t, "channels");
  std::optional<bool> notice = t.Bool("notice");
  std::optional<std::vector<std::string>> allow_force = t.StringList("allow_force");
  t.Finish();
  IrcNotifierConfig c;
  c.common = FinishCommon(L, ctx, t, "irc", std::move(common), {"failing", "passing", "warnings"});
  if (!server) t.Missing("server");
  if (server->empty() || server->find_first_of(" \t/@:") != std::string::npos)
    throw ConfigError("option 'server' in " + t.what() + " is not a host name: '" + *server + "'");
  c.server = *server;
  c.port = PortOption(t, "port", port);
  c.tls = tls.value_or(false);
  c.ca_file = CaFile(ctx, t, ca_file);
  if (nick) c.nick = *nick;
  if (!IsIrcNick(c.nick))
    throw ConfigError("option 'nick' in " + t.what() + ": '" + c.nick +
                      "' is not an IRC nick (letters, digits and []\\`_^{|}-, not starting with "
                      "a digit or '-', at most 30)");
  if (password) c.password = Resolve(ctx, t, "password", *password);
  if (!channels || channels->empty()) t.Missing("channels");
  for (const std::string& ch : *channels)
    if (!IsIrcChannel(ch))
      throw ConfigError("option 'channels' in " + t.what() + ": '" + ch +
                        "' is not a channel name like \"#ci\"");
  c.channels = std::move(*channels);
  c.notice = notice.value_or(false);
  c.allow_force = allow_force.value_or(std::vector<std::string>{});
  for (const std::string& n : c.allow_force)
    if (!IsIrcNick(n))
      throw ConfigError("option 'allow_force' in " + t.what() + ": '" + n + "' is not an IRC nick");
  ctx.config->notify.irc.push_back(std::move(c));
  return 0;
}

int Webhook(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "notify.webhook { url = \"https://...\" }");
  TableReader t(L, 1, "notify.webhook");
  CommonOptions common = ReadCommon(L, t);
  std::optional<std::string> url = t.String("url");
  std::optional<StringOrSecret> secret = t.StringOrSecretValue("secret");
  std::optional<std::string> format = t.String("format");
  std::optional<std::string> ca_file = t.String("ca_file");
  t.Finish();
  WebhookNotifierConfig w;
  w.common = FinishCommon(L, ctx, t, "webhook", std::move(common), {"all"});
  if (!url) t.Missing("url");
  CheckUrl(t, "url", *url);
  w.url = *url;
  if (secret) {
    w.secret = Resolve(ctx, t, "secret", *secret);
    if (w.secret.empty()) throw ConfigError("option 'secret' in " + t.what() + " is empty");
  }
  if (format) {
    if (*format != "json" && *format != "slack" && *format != "mattermost")
      throw ConfigError("option 'format' in " + t.what() +
                        " must be \"json\", \"slack\" or \"mattermost\", got '" + *format + "'");
    w.format = *format;
  }
  w.ca_file = CaFile(ctx, t, ca_file);
  ctx.config->notify.webhook.push_back(std::move(w));
  return 0;
}

int StatusPush(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "notify.status { provider = \"github\", token = secret \"NAME\" }");
  TableReader t(L, 1, "notify.status");
  CommonOptions common = ReadCommon(L, t);
  std::optional<std::string> provider = t.String("provider");
  std::optional<std::string> url = t.String("url");
  std::optional<StringOrSecret> token = t.StringOrSecretValue("token");
  std::optional<std::string> repo = t.String("repo");
  std::optional<std::string> context = t.String("context");
  std::optional<std::string> ca_file = t.String("ca_file");
  t.Finish();
  StatusNotifierConfig s;
  s.common = FinishCommon(L, ctx, t, "status", std::move(common), {"all"});
  if (!provider) t.Missing("provider");
  if (*provider != "github" && *provider != "gitlab" && *provider != "gitea")
    throw ConfigError("option 'provider' in " + t.what() +
                      " must be \"github\", \"gitlab\" or \"gitea\", got '" + *provider + "'");
  s.provider = *provider;
  if (url) {
    CheckUrl(t, "url", *url);
    s.url = *url;
  } else if (s.provider == "github") {
    s.url = "https://api.github.com";
  } else if (s.provider == "gitlab") {
    s.url = "https://gitlab.com";
  } else {
    throw ConfigError(t.what() + " needs url = \"https://gitea.example.org\" (the Gitea server)");
  }
  while (!s.url.empty() && s.url.back() == '/') s.url.pop_back();
  if (!token) t.Missing("token");
  s.token = Resolve(ctx, t, "token", *token);
  if (s.token.empty()) throw ConfigError("option 'token' in " + t.what() + " is empty");
  if (repo) {
    size_t slash = repo->find('/');
    if (slash == std::string::npos || slash == 0 || repo->back() == '/' ||
        repo->find_first_of(" \t?#") != std::string::npos)
      throw ConfigError("option 'repo' in " + t.what() + " must read \"owner/name\", got '" +
                        *repo + "'");
    s.repo = *repo;
  }
  if (context) {
    CheckTemplate(t, "context", *context);
    s.context = *context;
  }
  s.ca_file = CaFile(ctx, t, ca_file);
  ctx.config->notify.status.push_back(std::move(s));
  return 0;
}

// notify.<unknown>: a clear error instead of "attempt to call a nil value".
int UnknownNotifier(lua_State* L, LoadContext&) {
  if (lua_type(L, 2) != LUA_TSTRING) throw ConfigError("notify has no such field");
  std::string kind = lua_tostring(L, 2);
  throw ConfigError("there is no notifier notify." + kind +
                    DidYouMean(kind, {"email", "irc", "webhook", "status"}) +
                    "; known: email, irc, status, webhook");
}

}  // namespace

void RegisterNotifyApi(lua_State* L) {
  lua_newtable(L);
  lua_pushcfunction(L, &LuaFn<Email>);
  lua_setfield(L, -2, "email");
  lua_pushcfunction(L, &LuaFn<Irc>);
  lua_setfield(L, -2, "irc");
  lua_pushcfunction(L, &LuaFn<Webhook>);
  lua_setfield(L, -2, "webhook");
  lua_pushcfunction(L, &LuaFn<StatusPush>);
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  lua_pushcfunction(L, &LuaFn<UnknownNotifier>);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "notify");
}

}  // namespace grove::config_internal
