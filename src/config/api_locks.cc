// Locks (docs/config.md, "Locks"):
//
//   local db = lock.master { "db", max = 1 }      -- at most 1 build holding it on the master
//   local disk = lock.worker { "disk", max = 2 }  -- at most 2 per worker
//   builder "b" { locks = { db, disk }, ... }
//
// A lock is a marker table { __grove_lock = "master" | "worker", name = ..., max = N } that a
// builder's locks option takes; the dispatcher starts a build only when all its locks are free.
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

int MakeLock(lua_State* L, const char* kind) {
  std::string usage = std::string("lock.") + kind + " { \"name\", max = 1 }";
  ExpectOneArg(L, LUA_TTABLE, usage);
  TableReader t(L, 1, std::string(kind) + " lock");
  std::optional<std::string> name = t.PositionalString(1);
  int64_t max = t.Integer("max").value_or(1);
  t.Finish();
  if (!name || name->empty()) throw ConfigError("expected " + usage + ": the lock needs a name");
  if (max < 1 || max > 1000000)
    throw ConfigError("option 'max' in " + std::string(kind) + " lock '" + *name +
                      "' must be between 1 and 1000000");
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, kLockKey);
  lua_pushlstring(L, name->data(), name->size());
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, max);
  lua_setfield(L, -2, "max");
  return 1;
}

int MasterLock(lua_State* L, LoadContext&) {
  return MakeLock(L, "master");
}
int WorkerLock(lua_State* L, LoadContext&) {
  return MakeLock(L, "worker");
}

}  // namespace

std::vector<LockUse> ParseLocks(const Json& data, const std::string& what) {
  std::vector<LockUse> out;
  const std::string bad = "option 'locks' in " + what +
                          " must be a list of locks made by lock.master { ... } or lock.worker "
                          "{ ... }";
  if (data.is_object() && data.empty()) return out;  // locks = {}
  if (!data.is_array()) throw ConfigError(bad);
  for (const auto& item : data) {
    if (!item.is_object() || !item.contains(kLockKey) || !item[kLockKey].is_string() ||
        !item.contains("name") || !item.contains("max"))
      throw ConfigError(bad);
    LockUse use;
    use.kind = item[kLockKey].get<std::string>();
    use.name = item["name"].get<std::string>();
    use.max = item["max"].get<int>();
    out.push_back(std::move(use));
  }
  return out;
}

void RegisterLockApi(lua_State* L) {
  lua_newtable(L);
  lua_pushcfunction(L, &LuaFn<MasterLock>);
  lua_setfield(L, -2, "master");
  lua_pushcfunction(L, &LuaFn<WorkerLock>);
  lua_setfield(L, -2, "worker");
  lua_setglobal(L, "lock");
}

}  // namespace grove::config_internal
