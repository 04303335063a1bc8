// Master-wide settings, each declared at most once:
//
//   project { name = "SysGrove", url = "https://sysgrove.example" }
//   store  "sqlite:state/grove.db"        -- or "postgresql://grove@db/grove"
//   store  { url = "postgresql://grove@db/grove", password = secret "db" }
//   broker "embedded"                     -- or "amqp://user:pass@mq:5672/vhost", "amqps://..."
//   web { listen = "127.0.0.1:8010" }
#include <arpa/inet.h>

#include "broker/amqp_url.h"
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/secrets.h"
#include "config/table_reader.h"
#include "store/store.h"

namespace grove::config_internal {

namespace {

bool StartsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Mirrors what the HTTP server accepts: an IPv4 address, [IPv6] or localhost, and a port
// (0 lets the system pick one).
bool IsListenAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  if (std::stoi(port) > 65535) return false;
  std::string host = text.substr(0, colon);
  unsigned char addr[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), addr) == 1;
  return host == "localhost" || inet_pton(AF_INET, host.c_str(), addr) == 1;
}

int Project(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "project { name = \"MyProject\", url = \"https://...\" }");
  DeclareOnce(L, ctx, "project");
  TableReader t(L, 1, "project");
  std::optional<std::string> name = t.String("name");
  std::optional<std::string> url = t.String("url");
  t.Finish();
  if (!name) t.Missing("name");
  if (name->empty()) throw ConfigError("option 'name' in project must not be empty");
  ctx.config->project_name = *name;
  ctx.config->project_url = url.value_or("");
  return 0;
}

// store "URL", or store { url = "URL", password = secret "db" } to keep the database password
// out of grove.lua.
int Store(lua_State* L, LoadContext& ctx) {
  if (lua_gettop(L) != 1 || (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TTABLE))
    ExpectOneArg(L, LUA_TSTRING,
                 "store \"URL\" or store { url = \"URL\", password = secret \"NAME\" }");
  DeclareOnce(L, ctx, "store");
  std::string url;
  std::string password;
  if (lua_type(L, 1) == LUA_TTABLE) {
    TableReader t(L, 1, "store");
    std::optional<std::string> u = t.String("url");
    std::optional<StringOrSecret> pw = t.StringOrSecretValue("password");
    t.Finish();
    if (!u) t.Missing("url");
    url = *u;
    if (pw) {
      if (const SecretRef* ref = std::get_if<SecretRef>(&*pw)) {
        Status st = ResolveSecret(ctx.config->base_dir, ref->name, &password);
        if (!st.ok()) throw ConfigError("store.password: " + st.message());
      } else {
        password = std::get<std::string>(*pw);
      }
    }
  } else {
    url = lua_tostring(L, 1);
  }
  bool sqlite = StartsWith(url, "sqlite:") && url.size() > 7;
  bool postgres = (StartsWith(url, "postgresql://") && url.size() > 13) ||
                  (StartsWith(url, "postgres://") && url.size() > 11);
  if (!sqlite && !postgres)
    throw ConfigError("invalid store '" + RedactedStoreUrl(url) +
                      "': expected \"sqlite:PATH\" (relative to the master directory) or "
                      "\"postgresql://USER@HOST/DB\"");
  if (sqlite && !password.empty())
    throw ConfigError("store: a password is for a PostgreSQL store, not " + url);
  ctx.config->store_url = url;
  ctx.config->store_password = password;
  return 0;
}

int Broker(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TSTRING, "broker \"embedded\"");
  DeclareOnce(L, ctx, "broker");
  std::string url = lua_tostring(L, 1);
  bool amqp = (StartsWith(url, "amqp://") && url.size() > 7) ||
              (StartsWith(url, "amqps://") && url.size() > 8);
  if (url != "embedded" && !amqp)
    throw ConfigError("invalid broker '" + url +
                      "': expected \"embedded\" or \"amqp://USER:PASSWORD@HOST:PORT/VHOST\" "
                      "(amqps:// for TLS)");
  if (amqp) {
    amqp::AmqpUrl parsed;  // the query's TLS parameters, port, ... (no password in the message)
    if (Status st = amqp::AmqpUrl::Parse(url, &parsed); !st.ok())
      throw ConfigError("invalid broker URL: " + st.message());
  }
  ctx.config->broker_url = url;
  return 0;
}

int Web(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "web { listen = \"127.0.0.1:8010\" }");
  DeclareOnce(L, ctx, "web");
  TableReader t(L, 1, "web");
  std::optional<std::string> listen = t.String("listen");
  std::optional<std::string> users = t.String("users");
  std::optional<std::string> anonymous = t.String("anonymous");
  std::optional<int64_t> max_connections = t.Integer("max_connections");
  std::optional<std::string> metrics = t.String("metrics");
  t.Finish();
  if (metrics) {
    if (*metrics != "loopback" && *metrics != "public" && *metrics != "users" && *metrics != "off")
      throw ConfigError("invalid metrics '" + *metrics +
                        "' in web: expected \"loopback\", \"public\", \"users\" or \"off\"");
    ctx.config->web.metrics = *metrics;
  }
  if (max_connections) {
    if (*max_connections < 1 || *max_connections > 1000000)
      throw ConfigError("option 'max_connections' in web must be between 1 and 1000000, got " +
                        std::to_string(*max_connections));
    ctx.config->web.max_connections = *max_connections;
  }
  if (users) {
    if (users->empty()) throw ConfigError("web: 'users' must name a file");
    ctx.config->web.users = *users;
  }
  if (anonymous) {
    if (*anonymous != "viewer" && *anonymous != "none")
      throw ConfigError("invalid anonymous '" + *anonymous +
                        "' in web: expected \"viewer\" or \"none\"");
    ctx.config->web.anonymous = *anonymous;
  }
  if (listen) {
    if (!IsListenAddress(*listen))
      throw ConfigError("invalid listen address '" + *listen +
                        "' in web: expected HOST:PORT with an IP address or localhost, "
                        "e.g. \"127.0.0.1:8010\" or \"[::1]:8010\"");
    ctx.config->web.listen = *listen;
  }
  return 0;
}

}  // namespace

void RegisterProjectApi(lua_State* L) {
  SetGlobalFunction<Project>(L, "project");
  SetGlobalFunction<Store>(L, "store");
  SetGlobalFunction<Broker>(L, "broker");
  SetGlobalFunction<Web>(L, "web");
}

}  // namespace grove::config_internal
