// The time- and change-driven schedulers, in the `schedule` table next to schedule.force:
//
//   schedule.cron     { "nightly", "0 3 * * *", tz = "Europe/Rome", builders = { "b" },
//                       catch_up = "none" | "once", properties = { ... } }
//   schedule.periodic { "twice-a-day", every = "12h", builders = { "b" }, only_if_changed = app }
//   schedule.on_change { "ci", source = app, branches = { "main", "release/*" },
//                        files = { "src/*" }, tree_stable = "30s", builders = { "b" } }
//   schedule.triggerable { "deploy", builders = { "b" } }
//
// Builder names are checked once the whole config has run (FinishSchedulers).
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/source_ref.h"
#include "config/table_reader.h"
#include "core/cron.h"

namespace grove::config_internal {

namespace {

std::vector<std::string> RequiredBuilders(TableReader& t,
                                          std::optional<std::vector<std::string>> builders) {
  if (!builders) t.Missing("builders");
  if (builders->empty()) throw ConfigError("option 'builders' in " + t.what() + " is empty");
  return std::move(*builders);
}

Json ObjectProperties(TableReader& t, std::optional<Json> props) {
  if (!props) return Json::object();
  if (!props->is_object())
    throw ConfigError("option 'properties' in " + t.what() +
                      " must be a table of named values like { answer = 42 }");
  return std::move(*props);
}

std::string CatchUp(TableReader& t, std::optional<std::string> value) {
  if (!value) return "none";
  if (*value != "none" && *value != "once")
    throw ConfigError("option 'catch_up' in " + t.what() + " must be \"none\" or \"once\", got '" +
                      *value + "'");
  return *value;
}

// source = git { ... } (or the url of a declared git source as a string).
std::optional<std::string> SourceOption(lua_State* L, TableReader& t, const char* key) {
  int type = t.Push(key);
  std::optional<std::string> url;
  if (type != LUA_TNIL) {
    std::string u;
    if (IsSourceMarker(L, -1, &u))
      url = u;
    else if (type == LUA_TSTRING)
      url = lua_tostring(L, -1);
    else
      throw ConfigError("option '" + std::string(key) + "' in " + t.what() +
                        " must be a change source made by git { url = ... }, got " +
                        luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return url;
}

int Cron(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE,
               "schedule.cron { \"NAME\", \"0 3 * * *\", builders = { \"NAME\", ... } }");
  TableReader t(L, 1, "schedule.cron");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  std::optional<std::string> expr_pos = t.PositionalString(2);
  std::optional<std::string> expr = t.String("expr");
  CronSchedulerConfig c;
  c.tz = t.String("tz").value_or("");
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  std::optional<std::string> catch_up = t.String("catch_up");
  std::optional<Json> props = t.Data("properties");
  // Consumer jobs (api_consume.cc): consume = NAME instead of builders.
  std::optional<std::string> consume = t.String("consume");
  std::optional<Json> payload = t.Data("payload");
  std::optional<std::vector<std::string>> consume_tags = t.StringList("tags");
  t.Finish();
  if (!positional && !named)
    throw ConfigError("schedule.cron needs a name: schedule.cron { \"NAME\", \"EXPR\", ... }");
  if (consume) {
    if (builders) throw ConfigError("schedule.cron takes either consume = or builders =, not both");
    if (consume->empty()) throw ConfigError("option 'consume' in schedule.cron is empty");
    builders = std::vector<std::string>{EnsureConsumerBuilder(
        ctx, *consume, consume_tags.value_or(std::vector<std::string>{}), CallerWhere(L))};
    if (!props) props = Json::object();
    if (props->is_object()) (*props)["payload"] = payload ? *payload : Json::object();
  } else if (payload || consume_tags) {
    throw ConfigError(std::string("option '") + (payload ? "payload" : "tags") +
                      "' in schedule.cron needs consume = NAME");
  }
  c.name = ClaimSchedulerName(L, ctx, t, positional, named, "cron");
  c.where = CallerWhere(L);
  t.set_what("schedule.cron '" + c.name + "'");
  if (expr_pos && expr)
    throw ConfigError(t.what() + " has two expressions: give it as value #2 or expr =, not both");
  if (!expr_pos && !expr) t.Missing("expr");
  c.expr = expr_pos ? *expr_pos : *expr;
  CronSchedule parsed;
  Status st = CronSchedule::Parse(c.expr, c.tz, &parsed);
  if (!st.ok())
    throw ConfigError(std::string(expr_pos ? "value #2" : "option 'expr'") + " in " + t.what() +
                      ": " + st.message());
  c.builders = RequiredBuilders(t, std::move(builders));
  c.catch_up = CatchUp(t, catch_up);
  c.properties = ObjectProperties(t, std::move(props));
  ctx.config->cron_schedulers.push_back(std::move(c));
  return 0;
}

int Periodic(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE,
               "schedule.periodic { \"NAME\", every = \"12h\", builders = { \"NAME\", ... } }");
  TableReader t(L, 1, "schedule.periodic");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  std::optional<int64_t> every = t.Seconds("every");
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  std::optional<std::string> source = SourceOption(L, t, "only_if_changed");
  std::optional<std::string> catch_up = t.String("catch_up");
  std::optional<Json> props = t.Data("properties");
  t.Finish();
  if (!positional && !named)
    throw ConfigError(
        "schedule.periodic needs a name: schedule.periodic { \"NAME\", every = \"12h\", ... }");
  PeriodicSchedulerConfig p;
  p.name = ClaimSchedulerName(L, ctx, t, positional, named, "periodic");
  p.where = CallerWhere(L);
  t.set_what("schedule.periodic '" + p.name + "'");
  if (!every) t.Missing("every");
  if (*every < 1) throw ConfigError("option 'every' in " + t.what() + " must be at least 1s");
  p.every_s = *every;
  p.builders = RequiredBuilders(t, std::move(builders));
  p.only_if_changed = source.value_or("");
  p.catch_up = CatchUp(t, catch_up);
  p.properties = ObjectProperties(t, std::move(props));
  ctx.config->periodic_schedulers.push_back(std::move(p));
  return 0;
}

// branches = "main" or { "main", "release/*" }
std::vector<std::string> NameOrList(lua_State* L, TableReader& t, const char* key) {
  std::vector<std::string> out;
  int type = t.Push(key);
  if (type == LUA_TSTRING) {
    out.push_back(lua_tostring(L, -1));
  } else if (type != LUA_TNIL) {
    out = CheckStringList(L, lua_gettop(L), key, t.what());
  }
  lua_pop(L, 1);
  for (const std::string& s : out)
    if (s.empty())
      throw ConfigError("option '" + std::string(key) + "' in " + t.what() + " has an empty entry");
  return out;
}

int OnChange(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE,
               "schedule.on_change { \"NAME\", source = git { ... }, builders = { \"NAME\" } }");
  TableReader t(L, 1, "schedule.on_change");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  OnChangeSchedulerConfig o;
  std::optional<std::string> source = SourceOption(L, t, "source");
  o.branches = NameOrList(L, t, "branches");
  std::vector<std::string> branch = NameOrList(L, t, "branch");
  o.files = NameOrList(L, t, "files");
  o.tree_stable_s = t.Seconds("tree_stable").value_or(0);
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  std::optional<Json> props = t.Data("properties");
  t.Finish();
  if (!positional && !named)
    throw ConfigError(
        "schedule.on_change needs a name: schedule.on_change { \"NAME\", source = ..., ... }");
  o.name = ClaimSchedulerName(L, ctx, t, positional, named, "on_change");
  o.where = CallerWhere(L);
  t.set_what("schedule.on_change '" + o.name + "'");
  if (!branch.empty()) {
    if (!o.branches.empty()) throw ConfigError(t.what() + " has both branch = and branches =");
    o.branches = std::move(branch);
  }
  o.source = source.value_or("");
  o.builders = RequiredBuilders(t, std::move(builders));
  o.properties = ObjectProperties(t, std::move(props));
  ctx.config->on_change_schedulers.push_back(std::move(o));
  return 0;
}

int Triggerable(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "schedule.triggerable { \"NAME\", builders = { \"NAME\", ... } }");
  TableReader t(L, 1, "schedule.triggerable");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> named = t.String("name");
  std::optional<std::vector<std::string>> builders = t.StringList("builders");
  t.Finish();
  if (!positional && !named)
    throw ConfigError(
        "schedule.triggerable needs a name: schedule.triggerable { \"NAME\", builders = { ... } }");
  TriggerableSchedulerConfig tr;
  tr.name = ClaimSchedulerName(L, ctx, t, positional, named, "triggerable");
  tr.where = CallerWhere(L);
  t.set_what("schedule.triggerable '" + tr.name + "'");
  tr.builders = RequiredBuilders(t, std::move(builders));
  ctx.config->triggerable_schedulers.push_back(std::move(tr));
  return 0;
}

void SetFunction(lua_State* L, const char* name, lua_CFunction fn) {
  lua_pushstring(L, name);
  lua_pushcfunction(L, fn);
  lua_rawset(L, -3);
}

}  // namespace

void RegisterTimedScheduleApi(lua_State* L) {
  lua_getglobal(L, "schedule");
  SetFunction(L, "cron", &LuaFn<Cron>);
  SetFunction(L, "periodic", &LuaFn<Periodic>);
  SetFunction(L, "on_change", &LuaFn<OnChange>);
  SetFunction(L, "triggerable", &LuaFn<Triggerable>);
  lua_pop(L, 1);
}

}  // namespace grove::config_internal
