// What grove.lua gets besides the config functions: Lua's standard libraries, require() of files
// in the master directory, and grove.base_dir. The config is the admin's own code, so this is not
// a sandbox; only os.exit goes, because it would take a running master down on a reload.
#include <filesystem>

#include "config/api.h"
#include "config/file_util.h"
#include "config/lua_fn.h"

namespace grove::config_internal {

namespace {

int NoExit(lua_State* L) {
  return luaL_error(L, "os.exit is not available in grove.lua");
}

// A package.searchers entry for modules in the master directory: require "platforms" loads
// <base_dir>/platforms.lua (or platforms/init.lua) under the name "platforms.lua", so errors and
// definitions in it are located as "platforms.lua:LINE", like those in grove.lua.
int SearchMasterDir(lua_State* L, LoadContext& ctx) {
  if (lua_type(L, 1) != LUA_TSTRING) return 0;
  std::string module = lua_tostring(L, 1);
  std::string relative = module;
  for (char& c : relative)
    if (c == '.') c = '/';
  std::string tried;
  for (const std::string& candidate : {relative + ".lua", relative + "/init.lua"}) {
    std::string path = (std::filesystem::path(ctx.config->base_dir) / candidate).string();
    std::string source;
    int error = 0;
    if (!ReadWholeFile(path, &source, &error)) {
      tried += (tried.empty() ? "" : "\n\t") + ("no file '" + path + "'");
      continue;
    }
    if (LoadChunk(L, std::move(source), candidate) != LUA_OK)
      throw ConfigError(lua_tostring(L, -1), /*located=*/true);
    lua_pushstring(L, path.c_str());
    return 2;
  }
  lua_pushstring(L, tried.c_str());
  return 1;
}

}  // namespace

void RegisterEnvironment(lua_State* L) {
  const char* base_dir = GetContext(L).config->base_dir.c_str();

  lua_getglobal(L, "os");
  lua_pushcfunction(L, &NoExit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);

  // package.path first looks in the master directory too, for package.searchpath's sake; the
  // searcher above, placed right after package.preload, is what require actually uses there.
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", base_dir, base_dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "searchers");
  for (lua_Integer i = static_cast<lua_Integer>(lua_rawlen(L, -1)); i >= 2; --i) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, &LuaFn<SearchMasterDir>);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);

  lua_createtable(L, 0, 1);
  lua_pushstring(L, base_dir);
  lua_setfield(L, -2, "base_dir");
  lua_setglobal(L, "grove");
}

int InstallApi(lua_State* L) {
  luaL_openlibs(L);
  RegisterLimitGuards(L);
  RegisterEnvironment(L);
  RegisterProjectApi(L);
  RegisterWorkerApi(L);
  RegisterStepApi(L);
  RegisterPipelineStepApi(L);
  RegisterLockApi(L);
  RegisterArtifactStoreApi(L);
  RegisterRetentionApi(L);
  RegisterBuilderApi(L);
  RegisterScheduleApi(L);
  RegisterTimedScheduleApi(L);
  RegisterSourceApi(L);
  RegisterTriggerApi(L);
  RegisterConsumeApi(L);
  RegisterNotifyApi(L);
  return 0;
}

}  // namespace grove::config_internal
