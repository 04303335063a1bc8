// Schedulers, grouped in the `schedule` table (later: periodic, cron, on_change, triggerable):
//
//   schedule.force { "force", builders = { "hello" } }   -- builders omitted: all builders
#include <algorithm>

#include "config/api.h"
#include "config/lua_fn.h"
#include "config/naming.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

// Takes the scheduler's name from value #1 or name = (default |fallback|) and reserves it: all
// scheduler kinds share one namespace.
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

int Force(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "schedule.force { \"force\", builders = { \"NAME\", ... } }");
  TableReader t(L, 1, "schedule.force");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  t.Finish();
  ForceSchedulerConfig f;
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
int UnknownKind(lua_State* L, LoadContext&) {
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
  lua_pushcfunction(L, &LuaFn<UnknownKind>);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "schedule");
}

}  // namespace grove::config_internal
