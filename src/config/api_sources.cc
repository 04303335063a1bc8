// Change sources and webhook secrets:
//
//   local app = git { url = "https://git.example/app.git", branches = { "main" }, poll = "1m" }
//   schedule.on_change { "ci", source = app, builders = { "test" } }
//   webhooks { github = secret "github-hook", gitlab = secret "gitlab-hook",
//              gitea = secret "gitea-hook", generic = secret "hook-token" }
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/secrets.h"
#include "config/source_ref.h"
#include "config/table_reader.h"

namespace grove::config_internal {

bool IsSourceMarker(lua_State* L, int idx, std::string* url) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  int table = lua_absindex(L, idx);
  lua_pushstring(L, kSourceKey);
  bool marker = lua_rawget(L, table) == LUA_TSTRING;
  if (marker && url) *url = lua_tostring(L, -1);
  lua_pop(L, 1);
  return marker;
}

namespace {

int Git(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "git { url = \"https://...\", branch = \"main\", poll = \"1m\" }");
  TableReader t(L, 1, "git source");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> url = t.String("url");
  std::optional<std::string> branch = t.String("branch");
  std::optional<std::vector<std::string>> branches = t.StringList("branches");
  std::optional<int64_t> poll = t.Seconds("poll");
  t.Finish();
  if (positional && url) throw ConfigError("git source has two urls: give value #1 or url =");
  if (!positional && !url) t.Missing("url");
  GitSourceConfig g;
  g.url = positional ? *positional : *url;
  if (g.url.empty()) throw ConfigError("option 'url' in git source is empty");
  // The url is handed to the git command line: it must not be taken for an option.
  if (g.url[0] == '-') throw ConfigError("option 'url' in git source must not start with '-'");
  t.set_what("git source '" + g.url + "'");
  if (branch && branches) throw ConfigError(t.what() + " has both branch = and branches =");
  if (branch) g.branches = {*branch};
  if (branches) g.branches = std::move(*branches);
  for (const std::string& b : g.branches)
    if (b.empty() || b[0] == '-') throw ConfigError("invalid branch '" + b + "' in " + t.what());
  if (poll) {
    if (*poll != 0 && *poll < 1)
      throw ConfigError("option 'poll' in " + t.what() + " is too short");
    g.poll_s = *poll;
  }
  g.where = CallerWhere(L);
  for (const GitSourceConfig& other : ctx.config->git_sources)
    if (other.url == g.url)
      throw ConfigError("duplicate " + t.what() + " (first defined at " + other.where +
                        "): keep the value of the first git { ... } in a local and reuse it");
  ctx.config->git_sources.push_back(g);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, kSourceKey);
  lua_pushlstring(L, g.url.data(), g.url.size());
  lua_rawset(L, -3);
  return 1;
}

int Webhooks(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "webhooks { github = secret \"NAME\", ... }");
  DeclareOnce(L, ctx, "webhooks");
  TableReader t(L, 1, "webhooks");
  static constexpr const char* kProviders[] = {"generic", "gitea", "github", "gitlab"};
  std::map<std::string, StringOrSecret> given;
  for (const char* p : kProviders)
    if (std::optional<StringOrSecret> v = t.StringOrSecretValue(p)) given.emplace(p, *v);
  t.Finish();
  for (auto& [provider, value] : given) {
    std::string secret;
    if (const SecretRef* ref = std::get_if<SecretRef>(&value)) {
      Status st = ResolveSecret(ctx.config->base_dir, ref->name, &secret);
      if (!st.ok()) throw ConfigError("webhooks." + provider + ": " + st.message());
    } else {
      secret = std::get<std::string>(value);
    }
    if (secret.empty()) throw ConfigError("option '" + provider + "' in webhooks is empty");
    ctx.config->webhooks.secrets[provider] = secret;
  }
  return 0;
}

}  // namespace

void RegisterSourceApi(lua_State* L) {
  SetGlobalFunction<Git>(L, "git");
  SetGlobalFunction<Webhooks>(L, "webhooks");
}

}  // namespace grove::config_internal
