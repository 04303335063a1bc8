// The config loader (src/config) on a fuzzed grove.lua, run in process the way
// LoadConfigWithOptions runs it (InstallApi, LoadChunk, FinishConfig), with three limits so that
// what a fuzzed program may do is not reported as a bug of the loader: an instruction budget
// (an endless loop is an error, not a hang), a memory budget (the allocator refuses), and no way
// out of the process (io, os.execute/remove/rename, loadlib, bytecode).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <lua.hpp>
#include <string>

#include "config/api.h"
#include "config/file_util.h"
#include "config/finish.h"
#include "config/load_context.h"

using namespace grove;
using namespace grove::config_internal;

namespace {

constexpr int kHookEvery = 10000;            // instructions
constexpr int kMaxInstructions = 2'000'000;  // about 10 ms of Lua
constexpr size_t kMaxMemory = 64 << 20;      // bytes the Lua state may hold

struct Budget {
  size_t used = 0;
  int instructions = 0;
};

void* Alloc(void* ud, void* ptr, size_t old_size, size_t new_size) {
  auto* b = static_cast<Budget*>(ud);
  if (!ptr) old_size = 0;  // then it is the kind of object, not a size
  if (new_size == 0) {
    b->used -= old_size;
    free(ptr);
    return nullptr;
  }
  if (new_size > old_size && b->used - old_size + new_size > kMaxMemory) return nullptr;
  void* p = realloc(ptr, new_size);
  if (p) b->used = b->used - old_size + new_size;
  return p;
}

void CountInstructions(lua_State* L, lua_Debug*) {
  Budget* b = nullptr;
  lua_getallocf(L, reinterpret_cast<void**>(&b));
  if ((b->instructions += kHookEvery) > kMaxInstructions) luaL_error(L, "instruction budget spent");
}

void Sandbox(lua_State* L) {
  const char* kRemove[][2] = {{"os", "execute"},  {"os", "remove"}, {"os", "rename"},
                              {"os", "tmpname"},  {"os", "exit"},   {"package", "loadlib"},
                              {"string", "dump"}, {"_G", "io"},     {"_G", "dofile"},
                              {"_G", "loadfile"}};
  for (const auto& [table, field] : kRemove) {
    lua_getglobal(L, table);
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      lua_setfield(L, -2, field);
    }
    lua_pop(L, 1);
  }
  lua_getglobal(L, "package");
  lua_pushstring(L, "");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  static const std::string dir = [] {
    auto d =
        std::filesystem::temp_directory_path() / ("grove-fuzz-config-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  Config config;
  config.file = dir + "/grove.lua";
  config.base_dir = dir;
  LoadContext ctx;
  ctx.config = &config;
  ctx.chunk_name = "grove.lua";
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  Budget budget;
  lua_State* L = lua_newstate(&Alloc, &budget);
  if (!L) return 0;
  SetContext(L, &ctx);
  lua_pushcfunction(L, &InstallApi);
  if (lua_pcall(L, 0, 0, 0) == LUA_OK) {
    Sandbox(L);
    std::string source(reinterpret_cast<const char*>(data), size);
    if (LoadChunk(L, std::move(source), ctx.chunk_name) == LUA_OK) {
      lua_sethook(L, &CountInstructions, LUA_MASKCOUNT, kHookEvery);
      int rc = lua_pcall(L, 0, 0, 0);
      lua_sethook(L, nullptr, 0, 0);
      if (rc == LUA_OK) (void)FinishConfig(ctx);
    }
  }
  lua_close(L);
  return 0;
}
