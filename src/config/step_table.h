// The step table: what step functions (shell; later git, test, upload, ...) return and builder
// reads. It is a plain Lua table holding a StepSpec's fields, so that a config can keep a step in
// a variable, reuse it in several builders, or adjust it (s.timeout = "1h"). The key __grove_step
// marks it as made by a step function and records the line of that call.
//
//   { __grove_step = "grove.lua:7", type = "shell", name = "build", argv = { "make" },
//     env = { CC = "gcc" }, workdir = "src", timeout = 600, halt_on_failure = true,
//     options = { ... step-type specific ... } }
#pragma once

#include <lua.hpp>
#include <optional>
#include <string>

#include "core/protocol.h"

namespace grove::config_internal {

inline constexpr const char* kStepKey = "__grove_step";

// Pushes |step| as a step table; |name| is absent when the config gave none (the builder then
// names the step after its type).
void PushStepTable(lua_State* L, const StepSpec& step, const std::optional<std::string>& name,
                   const std::string& where);

bool IsStepTable(lua_State* L, int idx);

// Reads the step table at |idx| (|what| names it in errors). Sets *named to whether it has a name.
StepSpec ReadStepTable(lua_State* L, int idx, const std::string& what, bool* named);

}  // namespace grove::config_internal
