#include "config/step_table.h"

#include <algorithm>
#include <array>

#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

// The step types that step functions make; a new step function adds its type here.
constexpr std::array<const char*, 9> kStepTypes = {
    "shell", "trigger", "consume", "git", "test", "set_property", "upload", "download", "publish"};

void SetString(lua_State* L, const char* key, const std::string& value) {
  lua_pushstring(L, key);
  lua_pushlstring(L, value.data(), value.size());
  lua_rawset(L, -3);
}

}  // namespace

void PushStepTable(lua_State* L, const StepSpec& step, const std::optional<std::string>& name,
                   const std::string& where) {
  lua_createtable(L, 0, 10);
  SetString(L, kStepKey, where);
  SetString(L, "type", step.type);
  if (name) SetString(L, "name", *name);
  if (!step.command.empty()) SetString(L, "command", step.command);
  if (!step.argv.empty()) {
    lua_pushstring(L, "argv");
    PushJson(L, Json(step.argv));
    lua_rawset(L, -3);
  }
  if (!step.env.empty()) {
    lua_pushstring(L, "env");
    PushJson(L, Json(step.env));
    lua_rawset(L, -3);
  }
  if (!step.workdir.empty()) SetString(L, "workdir", step.workdir);
  lua_pushstring(L, "timeout");
  lua_pushinteger(L, step.timeout_s);
  lua_rawset(L, -3);
  lua_pushstring(L, "halt_on_failure");
  lua_pushboolean(L, step.halt_on_failure);
  lua_rawset(L, -3);
  if (!step.options.empty()) {
    lua_pushstring(L, "options");
    PushJson(L, step.options);
    lua_rawset(L, -3);
  }
}

bool IsStepTable(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  int table = lua_absindex(L, idx);
  lua_pushstring(L, kStepKey);
  bool step = lua_rawget(L, table) == LUA_TSTRING;
  lua_pop(L, 1);
  return step;
}

StepSpec ReadStepTable(lua_State* L, int idx, const std::string& what, bool* named) {
  TableReader t(L, idx, what);
  StepSpec step;
  t.String(kStepKey);
  std::optional<std::string> type = t.String("type");
  std::optional<std::string> name = t.String("name");
  step.command = t.String("command").value_or("");
  step.argv = t.StringList("argv").value_or(std::vector<std::string>{});
  step.env = t.StringMap("env").value_or(std::map<std::string, std::string>{});
  step.workdir = t.String("workdir").value_or("");
  step.timeout_s = t.Seconds("timeout").value_or(0);
  step.halt_on_failure = t.Bool("halt_on_failure").value_or(true);
  step.options = t.Data("options").value_or(Json::object());
  t.Finish();
  if (!type) t.Missing("type");
  if (std::find_if(kStepTypes.begin(), kStepTypes.end(),
                   [&](const char* known) { return *type == known; }) == kStepTypes.end())
    throw ConfigError("unknown step type '" + *type + "' in " + what);
  step.type = *type;
  *named = name.has_value();
  if (name) step.name = *name;
  return step;
}

}  // namespace grove::config_internal
