// Reading files for the loader: the config itself, modules it requires, secrets.
#pragma once

#include <lua.hpp>
#include <string>

namespace grove::config_internal {

// Reads all of |path| into *out. On failure returns false with errno's value in *error.
bool ReadWholeFile(const std::string& path, std::string* out, int* error);

// Compiles |source| as a text chunk named "@|display_name|" (so messages read
// "display_name:LINE: ..."), leaving the function or the error message on the stack. Like
// luaL_loadfile, it ignores a first line starting with '#' (a shebang). Never raises.
int LoadChunk(lua_State* L, std::string source, const std::string& display_name);

}  // namespace grove::config_internal
