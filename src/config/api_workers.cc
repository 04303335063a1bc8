// Workers and secrets:
//
//   worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
//
// secret "NAME" makes a marker that is resolved where it is used (secrets.h), so the value never
// appears in grove.lua.
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/secrets.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

constexpr int64_t kMaxCapacity = 1000;

int WorkerTable(lua_State* L, LoadContext& ctx) {
  std::string name = TakeDefinition(L, ctx);
  std::string what = "worker '" + name + "'";
  ExpectOneArg(L, LUA_TTABLE,
               "worker \"" + name + "\" { secret = secret \"" + name + "\", tags = { ... } }");
  WorkerConfig w;
  w.name = name;
  w.where = CallerWhere(L);
  if (const WorkerConfig* first = ctx.config->FindWorker(name))
    throw ConfigError("duplicate " + what + " (first defined at " + first->where + ")");

  TableReader t(L, 1, what);
  std::optional<StringOrSecret> secret = t.StringOrSecretValue("secret");
  w.tags = t.StringList("tags").value_or(std::vector<std::string>{});
  std::optional<int64_t> capacity = t.Integer("capacity");
  t.Finish();

  if (!secret) t.Missing("secret");
  if (const SecretRef* ref = std::get_if<SecretRef>(&*secret)) {
    Status st = ResolveSecret(ctx.config->base_dir, ref->name, &w.secret);
    if (!st.ok()) throw ConfigError(what + ": " + st.message());
  } else {
    w.secret = std::get<std::string>(*secret);
    if (w.secret.empty()) throw ConfigError("option 'secret' in " + what + " must not be empty");
  }
  for (const std::string& tag : w.tags)
    if (tag.empty() || tag.find_first_of(" \t\r\n") != std::string::npos)
      throw ConfigError("invalid tag '" + tag + "' in " + what + ": tags are non-empty words");
  if (capacity) {
    if (*capacity < 1 || *capacity > kMaxCapacity)
      throw ConfigError("option 'capacity' in " + what + " must be between 1 and " +
                        std::to_string(kMaxCapacity) + ", got " + std::to_string(*capacity));
    w.capacity = static_cast<int>(*capacity);
  }
  ctx.config->workers.push_back(std::move(w));
  return 0;
}

int Worker(lua_State* L, LoadContext& ctx) {
  return BeginDefinition(L, ctx, "worker", &LuaFn<WorkerTable>);
}

int Secret(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TSTRING, "secret \"NAME\"");
  std::string name = lua_tostring(L, 1);
  if (!IsValidSecretName(name))
    throw ConfigError("invalid secret name '" + name +
                      "': use letters, digits, '.', '_' and '-' (it names a file in secrets/)");
  lua_createtable(L, 0, 1);
  lua_pushstring(L, kSecretKey);
  lua_pushvalue(L, 1);
  lua_rawset(L, -3);
  return 1;
}

}  // namespace

void RegisterWorkerApi(lua_State* L) {
  SetGlobalFunction<Worker>(L, "worker");
  SetGlobalFunction<Secret>(L, "secret");
}

}  // namespace grove::config_internal
