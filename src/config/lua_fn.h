// The one door between Lua and the C++ that implements config functions.
//
// Lua (a C library) reports errors with longjmp, which skips C++ destructors; and a C++ exception
// must not unwind through Lua's C frames. So a config function is written as a Body: ordinary C++
// that owns strings and vectors freely, never calls back into Lua code, uses only raw table
// access (no metamethods, hence no Lua errors), and reports a mistake in grove.lua by throwing
// ConfigError. LuaFn<Body> is what Lua calls: it catches, copies the message into a plain buffer,
// and raises the Lua error only after every C++ object of Body is gone. (Lua's own out-of-memory
// errors are the exception to "no Lua errors"; at that point the master is lost anyway.)
#pragma once

#include <cstddef>
#include <lua.hpp>
#include <stdexcept>
#include <string>

#include "config/load_context.h"

namespace grove::config_internal {

// A mistake in grove.lua. The message names no place: LuaFn prefixes the config line that called
// the function, unless |located| says the message already starts with one (e.g. a syntax error in
// a required module).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message, bool located = false)
      : std::runtime_error(message), located_(located) {}
  bool located() const { return located_; }

 private:
  bool located_;
};

using LuaBody = int (*)(lua_State* L, LoadContext& ctx);

// Formats the exception being handled as "grove.lua:12: message" into |buf|. Allocates nothing.
void DescribeCurrentException(lua_State* L, char* buf, size_t size) noexcept;

// Raises |message| as a Lua error (never returns).
int RaiseLuaError(lua_State* L, const char* message);

template <LuaBody Body>
int LuaFn(lua_State* L) {
  char message[1024];
  try {
    return Body(L, GetContext(L));
  } catch (...) {
    DescribeCurrentException(L, message, sizeof message);
  }
  return RaiseLuaError(L, message);
}

// Registers LuaFn<Body> as global |name|.
template <LuaBody Body>
void SetGlobalFunction(lua_State* L, const char* name) {
  lua_pushcfunction(L, &LuaFn<Body>);
  lua_setglobal(L, name);
}

}  // namespace grove::config_internal
