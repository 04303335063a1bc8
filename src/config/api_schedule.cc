// Schedulers, grouped in the `schedule` table (cron, periodic, on_change and triggerable are in
// api_schedulers.cc):
//
//   schedule.force { "force", builders = { "hello" },   -- builders omitted: all builders
//                    params = { { name = "branch", default = "main", choices = { ... } } } }
#include <algorithm>

#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/naming.h"
#include "config/table_reader.h"

namespace grove::config_internal {

std::string ClaimSchedulerName(lua_State* L, LoadContext& ctx, TableReader& t,
                               std::optional<std::string> positional,
                               std::optional<std::string> named, const char* fallback) {
  if (positional && named)
    throw ConfigError(t.what() + " has two names: give it as value #1 or name =, not both");
  std::string name = positional ? *positional : named ? *named : fallback;
  CheckName("scheduler", name);
  auto [it, fresh] = ctx.schedulers.emplace(name, CallerWhere(L));
  if (!fresh)
    throw ConfigError("duplicate scheduler '" + name + "' (first defined at " + it->second + ")");
  return name;
}

namespace {

// params = { { name = "branch", default = "main", choices = { ... }, required = true }, ... }
std::vector<ForceParamConfig> ReadForceParams(lua_State* L, TableReader& t) {
  std::vector<ForceParamConfig> params;
  if (t.Push("params") == LUA_TNIL) {
    lua_pop(L, 1);
    return params;
  }
  int list = lua_gettop(L);
  size_t n = 0;
  if (!IsList(L, list, &n))
    throw ConfigError("option 'params' in " + t.what() +
                      " must be a list like { { name = \"branch\", default = \"main\" } }");
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, list, static_cast<lua_Integer>(i));
    std::string what = "params[" + std::to_string(i) + "] of " + t.what();
    if (!lua_istable(L, -1)) throw ConfigError(what + " must be a table { name = ... }");
    TableReader p(L, -1, what);
    ForceParamConfig param;
    std::optional<std::string> name = p.String("name");
    std::optional<Json> def = p.Data("default");
    param.choices = p.StringList("choices").value_or(std::vector<std::string>{});
    param.required = p.Bool("required").value_or(false);
    p.Finish();
    if (!name) p.Missing("name");
    CheckName("parameter", *name);
    for (const ForceParamConfig& other : params)
      if (other.name == *name)
        throw ConfigError("duplicate parameter '" + *name + "' in " + t.what());
    param.name = *name;
    if (def) {
      if (def->is_object() || def->is_array())
        throw ConfigError("option 'default' in " + what + " must be a string, number or boolean");
      param.default_value = *def;
      if (!param.choices.empty() &&
          (!def->is_string() || std::find(param.choices.begin(), param.choices.end(),
                                          def->get<std::string>()) == param.choices.end()))
        throw ConfigError("option 'default' in " + what + " is not one of its choices");
    }
    params.push_back(std::move(param));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return params;
}

int Force(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "schedule.force { \"force\", builders = { \"NAME\", ... } }");
  TableReader t(L, 1, "schedule.force");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  std::vector<ForceParamConfig> params = ReadForceParams(L, t);
  t.Finish();
  ForceSchedulerConfig f;
  f.params = std::move(params);
  f.name = ClaimSchedulerName(L, ctx, t, positional, named, "force");
  f.where = CallerWhere(L);
  if (builders) {
    if (builders->empty())
      throw ConfigError("option 'builders' in schedule.force '" + f.name +
                        "' is empty (leave it out to cover every builder)");
    f.builders = std::move(*builders);
  } else {
    ctx.force_all_builders.push_back(f.name);  // filled in once every builder is known
  }
  ctx.config->force_schedulers.push_back(std::move(f));
  return 0;
}

// schedule.<unknown>: a clear error instead of "attempt to call a nil value".
int UnknownScheduler(lua_State* L, LoadContext&) {
  if (lua_type(L, 2) != LUA_TSTRING) throw ConfigError("schedule has no such field");
  std::string kind = lua_tostring(L, 2);
  std::vector<std::string> known;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) known.push_back(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  std::sort(known.begin(), known.end());
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  throw ConfigError("there is no scheduler schedule." + kind + DidYouMean(kind, known) +
                    "; known: " + list);
}

}  // namespace

void RegisterScheduleApi(lua_State* L) {
  lua_newtable(L);
  lua_pushcfunction(L, &LuaFn<Force>);
  lua_setfield(L, -2, "force");
  lua_newtable(L);
  lua_pushcfunction(L, &LuaFn<UnknownScheduler>);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "schedule");
}

}  // namespace grove::config_internal
