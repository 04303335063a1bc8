// Builders:
//
//   builder "hello" {
//     tags = { "linux" },          -- run on a worker having all these tags
//     workers = { "w1" },          -- or only on these workers
//     priority = 0, properties = { answer = 42 },
//     locks = { lock.master { "db" } }, collapse = true,   -- api_locks.cc
//     steps = { shell { "make" }, ... },
//   }
#include <set>

#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

// Step names identify steps in the UI and the API, so they are made unique within a builder the
// way Buildbot does it: the first "shell" keeps its name, the next ones become "shell_2", ...
void MakeStepNamesUnique(std::vector<StepSpec>* steps) {
  std::set<std::string> taken;
  for (StepSpec& step : *steps) {
    std::string base = step.name;
    for (int n = 2; taken.count(step.name); ++n) step.name = base + "_" + std::to_string(n);
    taken.insert(step.name);
  }
}

std::vector<StepSpec> ReadSteps(lua_State* L, TableReader& t) {
  const std::string& what = t.what();
  int type = t.Push("steps");
  int steps_index = lua_gettop(L);
  std::vector<StepSpec> steps;
  if (type == LUA_TNIL) t.Missing("steps");
  size_t n = 0;
  if (!IsList(L, steps_index, &n))
    throw ConfigError("option 'steps' in " + what +
                      " must be a list of steps like { shell { \"make\" } }, got " +
                      luaL_typename(L, steps_index));
  if (n == 0) throw ConfigError(what + " has no steps");
  for (size_t i = 1; i <= n; ++i) {
    std::string path = "steps[" + std::to_string(i) + "]";
    lua_rawgeti(L, steps_index, static_cast<lua_Integer>(i));
    if (!IsStepTable(L, -1))
      throw ConfigError(Describe(path, what) + " must be a step made by shell { ... }, got " +
                        luaL_typename(L, -1));
    bool named = false;
    StepSpec step = ReadStepTable(L, -1, "step #" + std::to_string(i) + " of " + what, &named);
    if (!named) step.name = step.type;
    steps.push_back(std::move(step));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  MakeStepNamesUnique(&steps);
  return steps;
}

int BuilderTable(lua_State* L, LoadContext& ctx) {
  std::string name = TakeDefinition(L, ctx);
  std::string what = "builder '" + name + "'";
  ExpectOneArg(L, LUA_TTABLE, "builder \"" + name + "\" { tags = { ... }, steps = { ... } }");
  BuilderConfig b;
  b.name = name;
  b.where = CallerWhere(L);
  if (const BuilderConfig* first = ctx.config->FindBuilder(name))
    throw ConfigError("duplicate " + what + " (first defined at " + first->where + ")");

  TableReader t(L, 1, what);
  b.tags = t.StringList("tags").value_or(std::vector<std::string>{});
  b.workers = t.StringList("workers").value_or(std::vector<std::string>{});
  std::optional<int64_t> priority = t.Integer("priority");
  b.properties = t.Data("properties").value_or(Json::object());
  if (auto locks = t.Data("locks")) b.locks = ParseLocks(*locks, what);
  b.collapse = t.Bool("collapse").value_or(false);
  if (auto retention = t.Data("retention"))
    b.retention = ParseRetention(*retention, "option 'retention' in " + what, true);
  t.Push("steps");  // read below, once every option is known, so that a typo is reported first
  lua_pop(L, 1);
  t.Finish();
  b.steps = ReadSteps(L, t);

  if (priority) {
    if (*priority < -1000000 || *priority > 1000000)
      throw ConfigError("option 'priority' in " + what + " must be between -1000000 and 1000000");
    b.priority = static_cast<int>(*priority);
  }
  if (!b.properties.is_object())
    throw ConfigError("option 'properties' in " + what +
                      " must be a table of named values like { answer = 42 }");
  if (t.Push("workers") != LUA_TNIL && b.workers.empty())
    throw ConfigError("option 'workers' in " + what + " is empty: no worker could run it");
  lua_pop(L, 1);
  ctx.config->builders.push_back(std::move(b));
  return 0;
}

int Builder(lua_State* L, LoadContext& ctx) {
  return BeginDefinition(L, ctx, "builder", &LuaFn<BuilderTable>);
}

}  // namespace

void RegisterBuilderApi(lua_State* L) {
  SetGlobalFunction<Builder>(L, "builder");
}

}  // namespace grove::config_internal
