// TableReader: reads the options table of one config call, e.g. the { ... } of worker "w1" { ... }.
//
// Typed getters return std::nullopt for options not given and throw ConfigError for wrong types.
// Every option asked for becomes known; Finish() then rejects every other key, so a typo such as
// "tiemout" is an error with a suggestion instead of a silently ignored setting.
#pragma once

#include <algorithm>
#include <cstdint>
#include <lua.hpp>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/protocol.h"

namespace grove::config_internal {

// A reference made by secret "name", resolved where it is used (see secrets.h).
struct SecretRef {
  std::string name;
};
using StringOrSecret = std::variant<std::string, SecretRef>;

class TableReader {
 public:
  // |index|: the table's stack slot; |what|: how messages name it ("worker 'w1'").
  TableReader(lua_State* L, int index, std::string what);

  const std::string& what() const { return what_; }
  void set_what(std::string what) { what_ = std::move(what); }

  std::optional<std::string> String(const char* key);
  std::optional<int64_t> Integer(const char* key);
  std::optional<bool> Bool(const char* key);
  std::optional<std::vector<std::string>> StringList(const char* key);
  std::optional<std::map<std::string, std::string>> StringMap(const char* key);
  std::optional<int64_t> Seconds(const char* key);
  std::optional<Json> Data(const char* key);
  std::optional<StringOrSecret> StringOrSecretValue(const char* key);
  // The positional value [i] (as in shell { "make" }), which must be a string.
  std::optional<std::string> PositionalString(int i);
  // Marks positional value [i] as read, for values read by hand (a list, a source marker).
  void MarkPositional(int i) { positional_ = std::max(positional_, i); }

  // Pushes the raw value of |key| (nil when absent) for option types without a getter; returns
  // its Lua type. The caller pops it.
  int Push(const char* key);

  // Throws for the first (alphabetically) key that no getter asked for.
  void Finish();
  // Throws "missing required option 'KEY' in WHAT".
  [[noreturn]] void Missing(const char* key) const;

 private:
  template <typename T, typename Convert>
  std::optional<T> Get(const char* key, Convert convert);

  lua_State* L_;
  int index_;
  std::string what_;
  std::vector<std::string> known_;
  int positional_ = 0;  // positional values [1..positional_] are known
};

}  // namespace grove::config_internal
