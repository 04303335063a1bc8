// The trigger step: starts builds through a triggerable scheduler (or of a builder), optionally
// waits for them and takes their worst result.
//
//   trigger { "deploy", wait = true, properties = { version = "1.2" }, name = "deploy" }
//
// The worker runs it by calling the master's API (docs/protocol.md, "Trigger steps").
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

int Trigger(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, "trigger { \"SCHEDULER\", wait = true }");
  TableReader t(L, 1, "trigger step");
  std::optional<std::string> name = t.String("name");
  if (name && name->empty()) throw ConfigError("option 'name' in trigger step must not be empty");
  if (name) t.set_what("trigger step '" + *name + "'");
  std::optional<std::string> target = t.PositionalString(1);
  std::optional<std::string> scheduler = t.String("scheduler");
  bool wait = t.Bool("wait").value_or(true);
  Json props = t.Data("properties").value_or(Json::object());
  StepSpec step;
  step.type = "trigger";
  step.timeout_s = t.Seconds("timeout").value_or(0);
  step.halt_on_failure = t.Bool("halt_on_failure").value_or(true);
  t.Finish();
  if (target && scheduler)
    throw ConfigError(t.what() + " names two targets: value #1 and scheduler =");
  if (!target && !scheduler)
    throw ConfigError(t.what() + " names no target: trigger { \"SCHEDULER-OR-BUILDER\" }");
  if (!props.is_object())
    throw ConfigError("option 'properties' in " + t.what() + " must be a table of named values");
  step.options = {{"target", target ? *target : *scheduler}, {"wait", wait}, {"properties", props}};
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

}  // namespace

void RegisterTriggerApi(lua_State* L) {
  SetGlobalFunction<Trigger>(L, "trigger");
}

}  // namespace grove::config_internal
