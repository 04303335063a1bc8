#include "config/lua_fn.h"

#include <cstdio>

namespace grove::config_internal {

void DescribeCurrentException(lua_State* L, char* buf, size_t size) noexcept {
  char where[512];
  FormatWhere(L, 1, where, sizeof where);
  try {
    throw;
  } catch (const ConfigError& e) {
    if (e.located())
      std::snprintf(buf, size, "%s", e.what());
    else
      std::snprintf(buf, size, "%s: %s", where, e.what());
  } catch (const std::exception& e) {
    std::snprintf(buf, size, "%s: internal error: %s", where, e.what());
  } catch (...) {
    std::snprintf(buf, size, "%s: internal error", where);
  }
}

int RaiseLuaError(lua_State* L, const char* message) {
  lua_pushstring(L, message);
  return lua_error(L);
}

}  // namespace grove::config_internal
