// Step functions: each returns a step table (step_table.h) for a builder's steps list.
//
//   shell { "make -j2", name = "build", env = { CC = "gcc" }, workdir = "src", timeout = "10m",
//           halt_on_failure = true }
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

constexpr const char* kShellUsage = "shell { \"make test\", name = \"test\" }";

int Shell(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, kShellUsage);
  TableReader t(L, 1, "shell step");
  std::optional<std::string> name = t.String("name");
  if (name && name->empty()) throw ConfigError("option 'name' in shell step must not be empty");
  if (name) t.set_what("shell step '" + *name + "'");
  std::optional<std::string> positional = t.PositionalString(1);
  std::optional<std::string> command = t.String("command");
  std::optional<std::vector<std::string>> argv = t.StringList("argv");
  StepSpec step;
  step.type = "shell";
  step.env = t.StringMap("env").value_or(std::map<std::string, std::string>{});
  step.workdir = t.String("workdir").value_or("");
  step.timeout_s = t.Seconds("timeout").value_or(0);
  step.halt_on_failure = t.Bool("halt_on_failure").value_or(true);
  t.Finish();

  int given = (positional ? 1 : 0) + (command ? 1 : 0) + (argv ? 1 : 0);
  if (given == 0)
    throw ConfigError(t.what() +
                      " has no command: give it as shell { \"make\" }, command = \"make\" or "
                      "argv = { \"make\" }");
  if (given > 1)
    throw ConfigError(t.what() + " has more than one command: give only one of value #1, " +
                      "command = and argv =");
  if (argv) {
    if (argv->empty() || (*argv)[0].empty())
      throw ConfigError("option 'argv' in " + t.what() + " must start with the program to run");
    step.argv = std::move(*argv);
  } else {
    step.command = positional ? *positional : *command;
    if (step.command.find_first_not_of(" \t\r\n") == std::string::npos)
      throw ConfigError("the command of " + t.what() + " is empty");
  }
  // The worker runs steps in a per-build directory; an absolute workdir would escape it.
  if (!step.workdir.empty() && step.workdir[0] == '/')
    throw ConfigError("option 'workdir' in " + t.what() +
                      " must be relative to the build directory, got '" + step.workdir + "'");

  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

}  // namespace

void RegisterStepApi(lua_State* L) {
  SetGlobalFunction<Shell>(L, "shell");
}

}  // namespace grove::config_internal
