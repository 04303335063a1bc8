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

// The Lua heap's allocator keeps its account here (load_config.cc).
struct MemoryBudget {
  size_t used = 0;
  size_t limit = 0;  // 0: no limit
  // A refused request. Lua answers most refusals with a full collection and one retry of the
  // same request, and only a refused retry means the live data exceeds the limit; a refusal
  // followed by anything else (some callers raise at once) means it too. No Lua code runs
  // between a refusal and its retry.
  bool retry_pending = false;
  const void* refused_ptr = nullptr;
  size_t refused_osize = 0;
  size_t refused_nsize = 0;
  bool exceeded = false;
  bool Hit() const { return exceeded || retry_pending; }
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
  std::chrono::milliseconds time_limit{0};         // for the message
  MemoryBudget memory;
  // Set when the deadline passed: "grove.lua:12", where the config was running.
  bool time_exceeded = false;
  char time_exceeded_where[512] = {0};
  // A limit that was hit ends the run: pcall and its kin re-raise instead of catching.
  bool LimitHit() const { return time_exceeded || memory.Hit(); }
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
