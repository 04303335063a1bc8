// Step functions: each returns a step table (step_table.h) for a builder's steps list.
//
//   shell { "make -j2", name = "build", env = { CC = "gcc" }, workdir = "src", timeout = "10m",
//           halt_on_failure = true, flunk_on_failure = true, warn_on_failure = false,
//           always_run = false, description = "...", max_output = 1048576,
//           decode_rc = { [0] = "success", [1] = "warnings" } }
// (the shared options: step_options.h; the pipeline steps: api_pipeline_steps.cc)
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/step_options.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

constexpr const char* kShellUsage = "shell { \"make test\", name = \"test\" }";

int Shell(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, kShellUsage);
  TableReader t(L, 1, "shell step");
  std::optional<std::string> name = ReadStepName(t, "shell");
  CommandOptions cmd;
  cmd.Read(t);
  StepSpec step;
  step.type = "shell";
  ReadCommonStepOptions(L, t, &step);
  t.Finish();
  cmd.Apply(t, /*required=*/true, &step);
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

}  // namespace

void RegisterStepApi(lua_State* L) {
  SetGlobalFunction<Shell>(L, "shell");
}

}  // namespace grove::config_internal
