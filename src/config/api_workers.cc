// Workers and secrets:
//
//   worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
//   worker "burst" { secret = ..., on_demand = { start = {...}, stop = {...}, max = 8 } }
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
constexpr int64_t kMaxInstances = 1000;

// on_demand = { start = {...}, stop = {...}, max = 8, min = 0, idle = "5m", start_timeout = "3m" }
OnDemandConfig ReadOnDemand(lua_State* L, TableReader& parent) {
  OnDemandConfig od;
  int type = parent.Push("on_demand");
  if (type == LUA_TNIL) {
    lua_pop(L, 1);
    return od;
  }
  if (type != LUA_TTABLE)
    throw ConfigError("option 'on_demand' in " + parent.what() +
                      " must be a table like { start = { \"start.sh\" }, stop = { \"stop.sh\" }, "
                      "max = 4 }");
  TableReader t(L, -1, "on_demand of " + parent.what());
  std::optional<std::vector<std::string>> start = t.StringList("start");
  std::optional<std::vector<std::string>> stop = t.StringList("stop");
  std::optional<int64_t> max = t.Integer("max");
  std::optional<int64_t> min = t.Integer("min");
  std::optional<int64_t> idle = t.Seconds("idle");
  std::optional<int64_t> start_timeout = t.Seconds("start_timeout");
  t.Finish();
  if (!start || start->empty() || (*start)[0].empty()) t.Missing("start");
  if (!stop || stop->empty() || (*stop)[0].empty()) t.Missing("stop");
  od.enabled = true;
  od.start = *start;
  od.stop = *stop;
  if (max) {
    if (*max < 1 || *max > kMaxInstances)
      throw ConfigError("option 'max' in " + t.what() + " must be between 1 and " +
                        std::to_string(kMaxInstances) + ", got " + std::to_string(*max));
    od.max = static_cast<int>(*max);
  }
  if (min) {
    if (*min < 0 || *min > od.max)
      throw ConfigError("option 'min' in " + t.what() + " must be between 0 and max (" +
                        std::to_string(od.max) + "), got " + std::to_string(*min));
    od.min = static_cast<int>(*min);
  }
  if (idle) od.idle_s = *idle;
  if (start_timeout) {
    if (*start_timeout < 1)
      throw ConfigError("option 'start_timeout' in " + t.what() + " must be at least 1s");
    od.start_timeout_s = *start_timeout;
  }
  lua_pop(L, 1);
  return od;
}

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
  w.on_demand = ReadOnDemand(L, t);
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
  // An instance of an on-demand worker is named NAME-N: a declared worker may not take a name
  // that an instance could have.
  for (const WorkerConfig& other : ctx.config->workers) {
    const WorkerConfig* pool = nullptr;
    const WorkerConfig* named = nullptr;
    if (other.on_demand.enabled && w.name.rfind(other.name + "-", 0) == 0) {
      pool = &other;
      named = &w;
    } else if (w.on_demand.enabled && other.name.rfind(w.name + "-", 0) == 0) {
      pool = &w;
      named = &other;
    }
    if (!pool) continue;
    Config probe;
    probe.workers = {*pool};
    if (probe.FindWorkerOrInstance(named->name))
      throw ConfigError("worker '" + named->name + "' has the name of an instance of on-demand " +
                        "worker '" + pool->name + "'; rename one of them");
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
