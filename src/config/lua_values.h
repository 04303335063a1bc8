// Conversions from Lua values on the stack to C++ values, with grove.lua-level error messages.
// Every function here throws ConfigError (see lua_fn.h) and uses raw table access only.
//
// Messages name the value by |path| within |what|: path "tags[2]" in what "worker 'w1'" reads
// "option 'tags[2]' in worker 'w1'"; a path starting with '#' is positional: "value #1 in ...".
#pragma once

#include <cstdint>
#include <lua.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"

namespace grove::config_internal {

// "option 'tags' in worker 'w1'" or, for positional paths ("#1"), "value #1 in shell step".
std::string Describe(std::string_view path, std::string_view what);

std::string CheckString(lua_State* L, int idx, std::string_view path, std::string_view what);
int64_t CheckInteger(lua_State* L, int idx, std::string_view path, std::string_view what);
bool CheckBool(lua_State* L, int idx, std::string_view path, std::string_view what);
std::vector<std::string> CheckStringList(lua_State* L, int idx, std::string_view path,
                                         std::string_view what);
// A table of names to strings (numbers are accepted and written in decimal): env = { CC = "gcc" }.
std::map<std::string, std::string> CheckStringMap(lua_State* L, int idx, std::string_view path,
                                                  std::string_view what);
// A number of seconds (whole, >= 0) or a duration string: 90, "90s", "10m", "1h30m".
int64_t CheckSeconds(lua_State* L, int idx, std::string_view path, std::string_view what);
// Plain data (strings, numbers, booleans and tables of them) as JSON: lists become arrays,
// tables with names become objects, {} becomes an empty object.
Json CheckData(lua_State* L, int idx, std::string_view path, std::string_view what);

// True when the value at |idx| is a table whose keys are exactly 1..n; sets *n.
bool IsList(lua_State* L, int idx, size_t* n);

// The marker table made by secret "name": { __grove_secret = "name" }.
inline constexpr const char* kSecretKey = "__grove_secret";
bool IsSecretMarker(lua_State* L, int idx, std::string* name = nullptr);

// Pushes |value| as a Lua value (the inverse of CheckData).
void PushJson(lua_State* L, const Json& value);

}  // namespace grove::config_internal
