// The state of one LoadConfig() run, shared by the config functions that grove.lua calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <lua.hpp>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace grove::config_internal {

// A curried definition (worker "w1" without its { ... } yet); reported if the table never comes.
struct PendingDefinition {
  std::string what;  // "worker \"w1\""
  std::string where;
  bool done = false;
};

// Lives on LoadConfig's stack for the duration of the run. Config functions reach it through the
// Lua state's extra space (see GetContext), so no global or static state is involved.
struct LoadContext {
  Config* config = nullptr;  // the config being built; moved to the caller only on success
  std::string chunk_name;    // how the main file is named in messages: "grove.lua"
  std::map<std::string, std::string> singletons;  // "store", "web", ... → where first declared
  std::map<std::string, std::string> schedulers;  // every scheduler name → where declared
  std::vector<std::string> force_all_builders;    // force schedulers declared without builders
  std::vector<PendingDefinition> pending;
  std::chrono::steady_clock::time_point deadline;  // the config must have run by then
};

// Attaches |ctx| to |L| (and to the coroutines it will create, which copy the extra space).
void SetContext(lua_State* L, LoadContext* ctx);
LoadContext& GetContext(lua_State* L);

// Writes "grove.lua:12" for the innermost Lua function at stack |level| or above into |buf|:
// with level 1, the config line that called the running C function. Allocates nothing, so it is
// safe while an exception is being handled.
void FormatWhere(lua_State* L, int level, char* buf, size_t size) noexcept;
std::string CallerWhere(lua_State* L, int level = 1);

}  // namespace grove::config_internal
