// Makes the load's limits uncatchable (in process; the child process of config_eval.h is what
// bounds whatever slips through, such as a C function that never returns). The time limit hook and
// the allocator raise ordinary Lua errors, which pcall, xpcall, coroutine.resume and
// coroutine.close would catch, letting `while true do pcall(function() while true do end end) end`
// run forever. Their replacements here re-raise once a limit has been hit, so the error reaches the
// top of the load.
#include "config/api.h"

namespace grove::config_internal {

namespace {

// check(ok, ...): passes the results of a protected call through, unless it failed after a limit
// was hit; then raises its error again (a value that exists already: no allocation needed).
int PassUnlessLimitHit(lua_State* L) {
  if (lua_gettop(L) >= 1 && !lua_toboolean(L, 1) && GetContext(L).LimitHit()) {
    lua_settop(L, 2);
    return lua_error(L);
  }
  return lua_gettop(L);
}

int LimitHit(lua_State* L) {
  lua_pushboolean(L, GetContext(L).LimitHit());
  return 1;
}

// Written in Lua so that the replacements stay yieldable like the originals.
//
// Lua runs a message handler, and finalizers, with hooks off when the error came from the hook:
// xpcall's handler is skipped once a limit is hit, and __gc (which runs only hookless) is
// refused, or an endless loop there could not be stopped in process.
constexpr const char* kGuards = R"lua(
local check, hit, pcall, xpcall, resume, close, setmetatable, error, rawget = ...
_G.pcall = function(...) return check(pcall(...)) end
_G.xpcall = function(f, handler, ...)
  local guarded = handler
  if type(handler) == "function" then
    guarded = function(...) if hit() then return ... end return handler(...) end
  end
  return check(xpcall(f, guarded, ...))
end
coroutine.resume = function(...) return check(resume(...)) end
coroutine.close = function(...) return check(close(...)) end
_G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available in grove.lua", 2)
  end
  return setmetatable(t, mt)
end
)lua";

int NoSetHook(lua_State* L) {
  return luaL_error(L, "debug.sethook is not available in grove.lua");
}

}  // namespace

void RegisterLimitGuards(lua_State* L) {
  if (luaL_loadbufferx(L, kGuards, std::char_traits<char>::length(kGuards), "=limit guards", "t") !=
      LUA_OK)
    lua_error(L);
  lua_pushcfunction(L, &PassUnlessLimitHit);
  lua_pushcfunction(L, &LimitHit);
  lua_getglobal(L, "pcall");
  lua_getglobal(L, "xpcall");
  lua_getglobal(L, "coroutine");
  lua_getfield(L, -1, "resume");
  lua_getfield(L, -2, "close");
  lua_remove(L, -3);  // the coroutine table
  lua_getglobal(L, "setmetatable");
  lua_getglobal(L, "error");
  lua_getglobal(L, "rawget");
  lua_call(L, 9, 0);
  // The time limit is a hook: a config must not be able to remove it.
  lua_getglobal(L, "debug");
  lua_pushcfunction(L, &NoSetHook);
  lua_setfield(L, -2, "sethook");
  lua_pop(L, 1);
}

}  // namespace grove::config_internal
