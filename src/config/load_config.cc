// LoadConfig: runs grove.lua in a fresh Lua state, then checks the result as a whole.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <lua.hpp>
#include <memory>
#include <regex>

#include "config/api.h"
#include "config/config.h"
#include "config/file_util.h"
#include "config/finish.h"
#include "config/load_context.h"
#include "config/loader.h"

namespace grove {

namespace config_internal {

namespace {

// How often (in VM instructions) the deadline is checked: rare enough to cost nothing.
constexpr int kHookInstructions = 100000;

struct LuaCloser {
  void operator()(lua_State* L) const { lua_close(L); }
};
using LuaStatePtr = std::unique_ptr<lua_State, LuaCloser>;

// A count hook that stops a config that runs too long. Only C-style locals live in this frame,
// so raising the Lua error from it is safe. Once the deadline has passed it raises every time it
// runs, and the limit guards (api_limit_guards.cc) keep pcall from swallowing the error.
void CheckDeadline(lua_State* L, lua_Debug*) {
  LoadContext& ctx = GetContext(L);
  if (std::chrono::steady_clock::now() < ctx.deadline) return;
  if (!ctx.time_exceeded) {
    FormatWhere(L, 0, ctx.time_exceeded_where, sizeof ctx.time_exceeded_where);
    ctx.time_exceeded = true;
  }
  lua_pushliteral(L, "evaluation exceeded the time limit");
  lua_error(L);
}

// The Lua heap's allocator, counting into a MemoryBudget (see there for when a refusal means
// the limit is exceeded).
void* BudgetedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* b = static_cast<MemoryBudget*>(ud);
  size_t old = ptr ? osize : 0;  // with no block, |osize| is a type tag
  if (nsize == 0) {
    std::free(ptr);
    b->used -= old;
    return nullptr;
  }
  const bool grows = nsize > old;
  const bool is_retry = b->retry_pending && b->refused_ptr == ptr && b->refused_osize == osize &&
                        b->refused_nsize == nsize;
  if (grows && b->limit != 0 && b->used - old + nsize > b->limit) {
    if (b->retry_pending) b->exceeded = true;
    b->retry_pending = true;
    b->refused_ptr = ptr;
    b->refused_osize = osize;
    b->refused_nsize = nsize;
    return nullptr;
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) return nullptr;
  b->used = b->used - old + nsize;
  if (grows && b->retry_pending) {
    if (!is_retry) b->exceeded = true;
    b->retry_pending = false;
  }
  return block;
}

// The error for a limit that was hit: "grove.lua:3: evaluation exceeded the time limit of 10 s".
Status LimitError(const LoadContext& ctx) {
  if (ctx.memory.Hit())
    return Status::Invalid(ctx.chunk_name + ": evaluation exceeded " +
                           DescribeMemoryLimit(ctx.memory.limit));
  return Status::Invalid(std::string(ctx.time_exceeded_where) + ": evaluation exceeded " +
                         DescribeTimeLimit(ctx.time_limit));
}

// True when |message| starts with "FILE:LINE: ", as Lua's located messages do.
bool HasLocation(const std::string& message) {
  const std::regex kLocated("^[^:]+:[0-9]+: ");
  return std::regex_search(message, kLocated);
}

// The error on top of the stack as one line "FILE:LINE: message" (popped).
Status PopError(lua_State* L, const LoadContext& ctx) {
  std::string message = lua_type(L, -1) == LUA_TSTRING
                            ? lua_tostring(L, -1)
                            : std::string("error object is a ") + luaL_typename(L, -1) + " value";
  lua_pop(L, 1);
  std::string line;
  for (char c : message) {
    bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (!HasLocation(line)) line = ctx.chunk_name + ": " + line;
  return Status::Invalid(line);
}

}  // namespace

Status LoadConfigWithOptions(const std::string& path, const LoadOptions& options, Config* out) {
  std::string source;
  int error = 0;
  if (!ReadWholeFile(path, &source, &error)) {
    std::string message = "cannot read config " + path + ": " + std::strerror(error);
    return error == ENOENT ? Status::NotFound(message) : Status::IoError(message);
  }

  std::filesystem::path fs_path(path);
  Config config;
  config.file = path;
  config.base_dir = fs_path.has_parent_path() ? fs_path.parent_path().string() : ".";
  LoadContext ctx;
  ctx.config = &config;
  ctx.chunk_name = fs_path.filename().string();

  ctx.memory.limit = options.memory_limit;
  ctx.time_limit = options.time_limit;

  // Declared after |config| and |ctx|, so that anything the state runs while closing (__gc
  // metamethods) still finds them alive.
  LuaStatePtr state(lua_newstate(&BudgetedAlloc, &ctx.memory));
  if (!state) return Status::Unavailable("cannot create a Lua state: out of memory");
  lua_State* L = state.get();
  SetContext(L, &ctx);

  lua_pushcfunction(L, &InstallApi);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) return PopError(L, ctx);
  if (LoadChunk(L, std::move(source), ctx.chunk_name) != LUA_OK)
    return ctx.LimitHit() ? LimitError(ctx) : PopError(L, ctx);
  ctx.deadline = std::chrono::steady_clock::now() + options.time_limit;
  lua_sethook(L, &CheckDeadline, LUA_MASKCOUNT, kHookInstructions);
  int rc = lua_pcall(L, 0, 0, 0);
  lua_sethook(L, nullptr, 0, 0);
  if (ctx.LimitHit()) return LimitError(ctx);
  if (rc != LUA_OK) return PopError(L, ctx);

  GROVE_RETURN_IF_ERROR(FinishConfig(ctx));
  state.reset();
  *out = std::move(config);
  return Status::Ok();
}

std::string DescribeTimeLimit(std::chrono::milliseconds limit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(limit.count()) / 1000.0);
  return std::string("the time limit of ") + buf;
}

std::string DescribeMemoryLimit(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return std::string("the memory limit of ") + buf;
}

std::string DescribeCpuLimit(std::chrono::seconds limit) {
  return "the CPU limit of " + std::to_string(limit.count()) + " s";
}

}  // namespace config_internal

Status LoadConfig(const std::string& path, Config* out) {
  return config_internal::LoadConfigWithOptions(path, config_internal::LoadOptions{}, out);
}

}  // namespace grove
