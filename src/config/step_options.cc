#include "config/step_options.h"

#include <lua.hpp>

#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "core/result.h"

namespace grove::config_internal {

std::optional<std::string> ReadStepName(TableReader& t, const std::string& kind) {
  std::optional<std::string> name = t.String("name");
  if (name && name->empty())
    throw ConfigError("option 'name' in " + kind + " step must not be empty");
  if (name) t.set_what(kind + " step '" + *name + "'");
  return name;
}

void CheckRelativePath(const TableReader& t, const char* option, const std::string& path) {
  if (!path.empty() && path[0] == '/')
    throw ConfigError("option '" + std::string(option) + "' in " + t.what() +
                      " must be relative to the build directory, got '" + path + "'");
  std::string rest = path;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t slash = rest.find('/', pos);
    std::string part =
        rest.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (part == "..")
      throw ConfigError("option '" + std::string(option) + "' in " + t.what() +
                        " must stay inside the build directory, got '" + path + "'");
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
}

namespace {

// decode_rc = { [0] = "success", [1] = "warnings", [2] = "failure" }
Json ReadDecodeRc(lua_State* L, TableReader& t) {
  int type = t.Push("decode_rc");
  Json out = Json::object();
  if (type == LUA_TNIL) {
    lua_pop(L, 1);
    return out;
  }
  const std::string bad = "option 'decode_rc' in " + t.what() +
                          " must map exit codes to results, like { [0] = \"success\", [1] = "
                          "\"warnings\" }";
  if (type != LUA_TTABLE) throw ConfigError(bad);
  int table = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    int ok = 0;
    lua_Integer code = lua_tointegerx(L, -2, &ok);
    if (lua_type(L, -2) != LUA_TNUMBER || !ok || lua_type(L, -1) != LUA_TSTRING)
      throw ConfigError(bad);
    std::string name = lua_tostring(L, -1);
    std::optional<Result> r = ParseResult(name);
    if (!r || *r == Result::kRetry)
      throw ConfigError("option 'decode_rc' in " + t.what() + ": unknown result '" + name +
                        "' (use success, warnings, failure, skipped, exception or cancelled)");
    out[std::to_string(code)] = name;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return out;
}

}  // namespace

void ReadCommonStepOptions(lua_State* L, TableReader& t, StepSpec* step) {
  step->env = t.StringMap("env").value_or(std::map<std::string, std::string>{});
  step->workdir = t.String("workdir").value_or("");
  CheckRelativePath(t, "workdir", step->workdir);
  step->timeout_s = t.Seconds("timeout").value_or(0);
  step->halt_on_failure = t.Bool("halt_on_failure").value_or(true);
  Json& o = step->options;
  if (auto v = t.Bool("flunk_on_failure")) o["flunk_on_failure"] = *v;
  if (auto v = t.Bool("warn_on_failure")) o["warn_on_failure"] = *v;
  if (auto v = t.Bool("always_run")) o["always_run"] = *v;
  if (auto v = t.String("description")) o["description"] = *v;
  if (auto v = t.Integer("max_output")) {
    if (*v <= 0) throw ConfigError("option 'max_output' in " + t.what() + " must be > 0 bytes");
    o["max_output"] = *v;
  }
  Json decode = ReadDecodeRc(L, t);
  if (!decode.empty()) o["decode_rc"] = decode;
}

void CommandOptions::Read(TableReader& t) {
  positional = t.PositionalString(1);
  command = t.String("command");
  argv = t.StringList("argv");
  shell = t.String("shell");
}

bool CommandOptions::Apply(const TableReader& t, bool required, StepSpec* step) {
  const std::string kind = t.what().substr(0, t.what().find(' '));
  int given = (positional ? 1 : 0) + (command ? 1 : 0) + (argv ? 1 : 0);
  if (given == 0) {
    if (!required) return false;
    throw ConfigError(t.what() + " has no command: give it as " + kind +
                      " { \"make\" }, command = \"make\" or "
                      "argv = { \"make\" }");
  }
  if (given > 1)
    throw ConfigError(t.what() + " has more than one command: give only one of value #1, " +
                      "command = and argv =");
  if (shell) {
    if (*shell != "sh" && *shell != "cmd" && *shell != "powershell" && *shell != "pwsh")
      throw ConfigError("option 'shell' in " + t.what() +
                        " must be sh, cmd, powershell or pwsh, got '" + *shell + "'");
    if (argv)
      throw ConfigError("option 'shell' in " + t.what() +
                        " applies to a command, not to argv (which runs without a shell)");
    step->options["shell"] = *shell;
  }
  if (argv) {
    if (argv->empty() || (*argv)[0].empty())
      throw ConfigError("option 'argv' in " + t.what() + " must start with the program to run");
    step->argv = *argv;
  } else {
    step->command = positional ? *positional : *command;
    if (step->command.find_first_not_of(" \t\r\n") == std::string::npos)
      throw ConfigError("the command of " + t.what() + " is empty");
  }
  return true;
}

}  // namespace grove::config_internal
