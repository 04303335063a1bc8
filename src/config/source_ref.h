// The value git { ... } returns in grove.lua: a marker table { __grove_source = URL } that
// schedulers take as source = (the git source itself is recorded in Config::git_sources).
#pragma once

#include <lua.hpp>
#include <string>

namespace grove::config_internal {

inline constexpr const char* kSourceKey = "__grove_source";

// True when the value at |idx| is such a marker; sets *url.
bool IsSourceMarker(lua_State* L, int idx, std::string* url);

}  // namespace grove::config_internal
