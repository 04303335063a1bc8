#include "config/lua_values.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "config/lua_fn.h"
#include "core/duration.h"

namespace grove::config_internal {

namespace {

// Tables nested deeper than this are almost certainly a table that contains itself.
constexpr int kMaxDataDepth = 32;

std::string Got(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ", got %.14g", lua_tonumber(L, idx));
    return buf;
  }
  return std::string(", got ") + luaL_typename(L, idx);
}

// Strings reach the web UI, logs and JSON messages, all of which want UTF-8; a Latin-1 file is a
// mistake better reported here than as mangled text later.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c < 0x80)
      extra = 0;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
      extra = 1;
    else if ((c & 0xF0) == 0xE0)
      extra = 2;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
      extra = 3;
    else
      return false;
    if (extra >= s.size() - i) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

std::string Join(std::string_view path, std::string_view child) {
  return std::string(path) + std::string(child);
}

Json DataAt(lua_State* L, int idx, const std::string& path, std::string_view what, int depth);

Json TableData(lua_State* L, int idx, const std::string& path, std::string_view what, int depth) {
  if (depth > kMaxDataDepth)
    throw ConfigError(Describe(path, what) +
                      " is nested too deeply (does a table contain itself?)");
  if (!lua_checkstack(L, 4)) throw ConfigError(Describe(path, what) + " is nested too deeply");
  size_t n = 0;
  if (IsList(L, idx, &n) && n > 0) {
    Json out = Json::array();
    for (size_t i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
      out.push_back(
          DataAt(L, lua_gettop(L), path + "[" + std::to_string(i) + "]", what, depth + 1));
      lua_pop(L, 1);
    }
    return out;
  }
  Json out = Json::object();
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      throw ConfigError(Describe(path, what) +
                        " mixes list items and named fields; use one or the other");
    std::string key = lua_tostring(L, -2);
    std::string child = path + "." + key;
    out[key] = DataAt(L, lua_gettop(L), child, what, depth + 1);
    lua_pop(L, 1);
  }
  return out;
}

Json DataAt(lua_State* L, int idx, const std::string& path, std::string_view what, int depth) {
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      return lua_toboolean(L, idx) != 0;
    case LUA_TNUMBER: {
      if (lua_isinteger(L, idx)) return static_cast<int64_t>(lua_tointeger(L, idx));
      double d = lua_tonumber(L, idx);
      if (!std::isfinite(d)) throw ConfigError(Describe(path, what) + " must be a finite number");
      return d;
    }
    case LUA_TSTRING:
      return CheckString(L, idx, path, what);
    case LUA_TTABLE:
      if (IsSecretMarker(L, idx))
        throw ConfigError(Describe(path, what) +
                          " cannot hold a secret: it would be shown in the web UI");
      return TableData(L, idx, path, what, depth);
    default:
      throw ConfigError(Describe(path, what) +
                        " must be plain data (strings, numbers, booleans, tables)" + Got(L, idx));
  }
}

}  // namespace

std::string Describe(std::string_view path, std::string_view what) {
  if (!path.empty() && path[0] == '#')
    return "value " + std::string(path) + " in " + std::string(what);
  return "option '" + std::string(path) + "' in " + std::string(what);
}

std::string CheckString(lua_State* L, int idx, std::string_view path, std::string_view what) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, idx, &n);
    std::string value(s, n);
    if (!IsValidUtf8(value)) throw ConfigError(Describe(path, what) + " is not valid UTF-8");
    return value;
  }
  if (IsSecretMarker(L, idx)) throw ConfigError(Describe(path, what) + " does not accept a secret");
  throw ConfigError(Describe(path, what) + " must be a string" + Got(L, idx));
}

int64_t CheckInteger(lua_State* L, int idx, std::string_view path, std::string_view what) {
  // lua_tointegerx would also convert "2": a string where a number belongs is a mistake.
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (ok) return v;
    throw ConfigError(Describe(path, what) + " must be a whole number" + Got(L, idx));
  }
  throw ConfigError(Describe(path, what) + " must be an integer" + Got(L, idx));
}

bool CheckBool(lua_State* L, int idx, std::string_view path, std::string_view what) {
  if (lua_type(L, idx) == LUA_TBOOLEAN) return lua_toboolean(L, idx) != 0;
  throw ConfigError(Describe(path, what) + " must be true or false" + Got(L, idx));
}

std::vector<std::string> CheckStringList(lua_State* L, int idx, std::string_view path,
                                         std::string_view what) {
  idx = lua_absindex(L, idx);
  size_t n = 0;
  if (lua_type(L, idx) != LUA_TTABLE || !IsList(L, idx, &n))
    throw ConfigError(Describe(path, what) + " must be a list of strings like { \"a\", \"b\" }" +
                      Got(L, idx));
  std::vector<std::string> out;
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
    out.push_back(CheckString(L, -1, Join(path, "[" + std::to_string(i) + "]"), what));
    lua_pop(L, 1);
  }
  return out;
}

std::map<std::string, std::string> CheckStringMap(lua_State* L, int idx, std::string_view path,
                                                  std::string_view what) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    throw ConfigError(Describe(path, what) + " must be a table like { NAME = \"value\" }" +
                      Got(L, idx));
  std::map<std::string, std::string> out;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      throw ConfigError(Describe(path, what) + " must be a table like { NAME = \"value\" }, " +
                        "got a " + luaL_typename(L, -2) + " key");
    std::string key = CheckString(L, -2, path, what);
    std::string child = Join(path, "." + key);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      Json number = DataAt(L, lua_gettop(L), child, what, 0);
      out[key] = number.dump();
    } else {
      out[key] = CheckString(L, -1, child, what);
    }
    lua_pop(L, 1);
  }
  return out;
}

int64_t CheckSeconds(lua_State* L, int idx, std::string_view path, std::string_view what) {
  int64_t seconds = 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    seconds = CheckInteger(L, idx, path, what);
  } else if (lua_type(L, idx) == LUA_TSTRING) {
    std::chrono::seconds d{};
    Status st = ParseDuration(CheckString(L, idx, path, what), &d);
    if (!st.ok()) throw ConfigError(Describe(path, what) + ": " + st.message());
    seconds = d.count();
  } else {
    throw ConfigError(Describe(path, what) +
                      " must be a number of seconds or a duration like \"10m\"" + Got(L, idx));
  }
  if (seconds < 0) throw ConfigError(Describe(path, what) + " must not be negative");
  return seconds;
}

Json CheckData(lua_State* L, int idx, std::string_view path, std::string_view what) {
  return DataAt(L, lua_absindex(L, idx), std::string(path), what, 0);
}

bool IsList(lua_State* L, int idx, size_t* n) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  size_t count = 0;
  bool list = true;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    ++count;
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1) list = false;
    lua_pop(L, 1);
  }
  // Positive integer keys, as many as the border: exactly 1..count.
  list = list && lua_rawlen(L, idx) == count;
  *n = count;
  return list;
}

bool IsSecretMarker(lua_State* L, int idx, std::string* name) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  int table = lua_absindex(L, idx);
  lua_pushstring(L, kSecretKey);
  bool marker = lua_rawget(L, table) == LUA_TSTRING;
  if (marker && name) *name = lua_tostring(L, -1);
  lua_pop(L, 1);
  return marker;
}

void PushJson(lua_State* L, const Json& value) {
  if (!lua_checkstack(L, 3)) throw ConfigError("value is nested too deeply");
  switch (value.type()) {
    case Json::value_t::boolean:
      lua_pushboolean(L, value.get<bool>());
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      lua_pushinteger(L, value.get<int64_t>());
      break;
    case Json::value_t::number_float:
      lua_pushnumber(L, value.get<double>());
      break;
    case Json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case Json::value_t::array: {
      lua_createtable(L, static_cast<int>(value.size()), 0);
      lua_Integer i = 1;
      for (const Json& item : value) {
        PushJson(L, item);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case Json::value_t::object:
      lua_createtable(L, 0, static_cast<int>(value.size()));
      for (const auto& [key, item] : value.items()) {
        lua_pushlstring(L, key.data(), key.size());
        PushJson(L, item);
        lua_rawset(L, -3);
      }
      break;
    default:
      lua_pushnil(L);
  }
}

}  // namespace grove::config_internal
