#include "config/table_reader.h"

#include <algorithm>

#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/naming.h"

namespace grove::config_internal {

TableReader::TableReader(lua_State* L, int index, std::string what)
    : L_(L), index_(lua_absindex(L, index)), what_(std::move(what)) {}

int TableReader::Push(const char* key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  lua_pushstring(L_, key);
  return lua_rawget(L_, index_);
}

template <typename T, typename Convert>
std::optional<T> TableReader::Get(const char* key, Convert convert) {
  if (Push(key) == LUA_TNIL) {
    lua_pop(L_, 1);
    return std::nullopt;
  }
  std::optional<T> value = convert(L_, lua_gettop(L_), key, what_);
  lua_pop(L_, 1);
  return value;
}

std::optional<std::string> TableReader::String(const char* key) {
  return Get<std::string>(key, CheckString);
}

std::optional<int64_t> TableReader::Integer(const char* key) {
  return Get<int64_t>(key, CheckInteger);
}

std::optional<bool> TableReader::Bool(const char* key) {
  return Get<bool>(key, CheckBool);
}

std::optional<std::vector<std::string>> TableReader::StringList(const char* key) {
  return Get<std::vector<std::string>>(key, CheckStringList);
}

std::optional<std::map<std::string, std::string>> TableReader::StringMap(const char* key) {
  return Get<std::map<std::string, std::string>>(key, CheckStringMap);
}

std::optional<int64_t> TableReader::Seconds(const char* key) {
  return Get<int64_t>(key, CheckSeconds);
}

std::optional<Json> TableReader::Data(const char* key) {
  return Get<Json>(key, CheckData);
}

std::optional<StringOrSecret> TableReader::StringOrSecretValue(const char* key) {
  return Get<StringOrSecret>(
      key, [](lua_State* L, int idx, std::string_view path, std::string_view what) {
        std::string name;
        if (IsSecretMarker(L, idx, &name)) return StringOrSecret(SecretRef{name});
        if (lua_type(L, idx) != LUA_TSTRING)
          throw ConfigError(Describe(path, what) + " must be a string or secret \"NAME\", got " +
                            luaL_typename(L, idx));
        return StringOrSecret(CheckString(L, idx, path, what));
      });
}

std::optional<std::string> TableReader::PositionalString(int i) {
  positional_ = std::max(positional_, i);
  std::optional<std::string> value;
  if (lua_rawgeti(L_, index_, i) != LUA_TNIL)
    value = CheckString(L_, -1, "#" + std::to_string(i), what_);
  lua_pop(L_, 1);
  return value;
}

void TableReader::Finish() {
  std::vector<std::string> unknown;
  lua_Integer bad_position = 0;
  std::string bad_key_type;
  lua_pushnil(L_);
  while (lua_next(L_, index_) != 0) {
    if (lua_type(L_, -2) == LUA_TSTRING) {
      std::string key = lua_tostring(L_, -2);
      if (std::find(known_.begin(), known_.end(), key) == known_.end()) unknown.push_back(key);
    } else if (lua_isinteger(L_, -2)) {
      lua_Integer k = lua_tointeger(L_, -2);
      if ((k < 1 || k > positional_) && (bad_position == 0 || k < bad_position)) bad_position = k;
    } else {
      bad_key_type = luaL_typename(L_, -2);
    }
    lua_pop(L_, 1);
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    throw ConfigError("unknown option '" + unknown[0] + "' in " + what_ +
                      DidYouMean(unknown[0], known_));
  }
  if (bad_position != 0)
    throw ConfigError("unexpected value #" + std::to_string(bad_position) + " in " + what_ +
                      (positional_ == 0 ? " (it takes only named options)" : ""));
  if (!bad_key_type.empty()) throw ConfigError("unexpected " + bad_key_type + " key in " + what_);
}

void TableReader::Missing(const char* key) const {
  throw ConfigError("missing required option '" + std::string(key) + "' in " + what_);
}

}  // namespace grove::config_internal
