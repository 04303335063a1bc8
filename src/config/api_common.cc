#include "config/api.h"
#include "config/lua_fn.h"
#include "config/naming.h"

namespace grove::config_internal {

void ExpectOneArg(lua_State* L, int type, const std::string& usage) {
  int n = lua_gettop(L);
  if (n == 1 && lua_type(L, 1) == type) return;
  std::string got = n == 0  ? "nothing"
                    : n > 1 ? std::to_string(n) + " arguments"
                            : luaL_typename(L, 1);
  throw ConfigError("expected " + usage + ", got " + got);
}

void DeclareOnce(lua_State* L, LoadContext& ctx, const std::string& what) {
  auto [it, fresh] = ctx.singletons.emplace(what, CallerWhere(L));
  if (!fresh) throw ConfigError(what + " is declared twice (first at " + it->second + ")");
}

int BeginDefinition(lua_State* L, LoadContext& ctx, const char* kind, lua_CFunction table_fn) {
  std::string k = kind;
  ExpectOneArg(L, LUA_TSTRING, k + " \"NAME\" { ... }");
  std::string name = lua_tostring(L, 1);
  CheckName(k, name);
  ctx.pending.push_back({k + " \"" + name + "\"", CallerWhere(L), false});
  lua_pushvalue(L, 1);
  lua_pushinteger(L, static_cast<lua_Integer>(ctx.pending.size() - 1));
  lua_pushcclosure(L, table_fn, 2);
  return 1;
}

std::string TakeDefinition(lua_State* L, LoadContext& ctx) {
  ctx.pending.at(static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(2)))).done = true;
  return lua_tostring(L, lua_upvalueindex(1));
}

}  // namespace grove::config_internal
