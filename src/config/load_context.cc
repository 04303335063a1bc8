#include "config/load_context.h"

#include <cstdio>

namespace grove::config_internal {

void SetContext(lua_State* L, LoadContext* ctx) {
  *static_cast<LoadContext**>(lua_getextraspace(L)) = ctx;
}

LoadContext& GetContext(lua_State* L) {
  return **static_cast<LoadContext**>(lua_getextraspace(L));
}

void FormatWhere(lua_State* L, int level, char* buf, size_t size) noexcept {
  lua_Debug ar;
  // C functions (pcall, require, table.sort's callbacks) have no line: skip to their Lua caller.
  for (int lv = level; lua_getstack(L, lv, &ar); ++lv) {
    if (lua_getinfo(L, "Sl", &ar) == 0) break;
    if (ar.currentline > 0) {
      // The chunk names we give are "@file" (see LoadChunk): the full name, not Lua's short_src,
      // which is cut to 60 characters.
      const char* file = ar.source[0] == '@' ? ar.source + 1 : ar.short_src;
      std::snprintf(buf, size, "%s:%d", file, ar.currentline);
      return;
    }
  }
  std::snprintf(buf, size, "%s", GetContext(L).chunk_name.c_str());
}

std::string CallerWhere(lua_State* L, int level) {
  char buf[512];
  FormatWhere(L, level, buf, sizeof buf);
  return buf;
}

}  // namespace grove::config_internal
