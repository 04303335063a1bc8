// Typed reads of the fields of a JSON object that came from outside (a network peer, a file).
//
// nlohmann's j.value("k", d), j["k"].get<T>() and j.at("k") throw type_error when "k" holds
// another type; an exception that escapes a network handler ends the process. These readers
// never throw: a field of the wrong type is an Invalid status naming the field and both types,
// e.g. "malformed hello: 'secret' must be a string, not a number".
//
// A null field counts as absent. An absent optional field leaves |*out| as it was (the caller's
// default); an absent required one is Invalid ("... 'request' is missing").
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace grove {

using Json = nlohmann::json;

enum class Need { kOptional, kRequired };

// Reads the fields of one object, remembering the first problem. |what| names the object in
// messages ("hello", "event", "job", "request body"). Every reader does nothing once a problem
// was found, so a message is checked in one chain:
//
//   JsonFields f(msg, "hello");
//   f.Str("name", &h.name, Need::kRequired).Str("secret", &h.secret).Int("capacity", &cap, 0);
//   if (!f.ok()) return f.status();
class JsonFields {
 public:
  JsonFields(const Json& obj, std::string what);

  JsonFields& Str(std::string_view key, std::string* out, Need need = Need::kOptional);
  // An integer (not 2.5, not "2") within [lo, hi].
  JsonFields& Int(std::string_view key, int64_t* out, int64_t lo = INT64_MIN,
                  int64_t hi = INT64_MAX, Need need = Need::kOptional);
  JsonFields& Int(std::string_view key, int* out, int lo = INT_MIN, int hi = INT_MAX,
                  Need need = Need::kOptional);
  JsonFields& Bool(std::string_view key, bool* out, Need need = Need::kOptional);
  JsonFields& Object(std::string_view key, Json* out, Need need = Need::kOptional);
  JsonFields& Array(std::string_view key, Json* out, Need need = Need::kOptional);
  // Any JSON value but null.
  JsonFields& Any(std::string_view key, Json* out, Need need = Need::kOptional);
  JsonFields& StrList(std::string_view key, std::vector<std::string>* out,
                      Need need = Need::kOptional);
  JsonFields& StrMap(std::string_view key, std::map<std::string, std::string>* out,
                     Need need = Need::kOptional);
  // Checks the type only (the value is read elsewhere, e.g. after this validation).
  JsonFields& CheckStr(std::string_view key, Need need = Need::kOptional);
  JsonFields& CheckInt(std::string_view key, int64_t lo = INT64_MIN, int64_t hi = INT64_MAX,
                       Need need = Need::kOptional);
  JsonFields& CheckBool(std::string_view key, Need need = Need::kOptional);
  JsonFields& CheckObject(std::string_view key, Need need = Need::kOptional);
  JsonFields& CheckArray(std::string_view key, Need need = Need::kOptional);

  // Records a problem found by the caller (same message form).
  JsonFields& Fail(const std::string& problem);

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  // The field, or nullptr when absent (or null; then a required one records a problem).
  const Json* Find(std::string_view key, Need need);
  void WrongType(std::string_view key, const char* want, const Json& got);
  // True when the field was there and read into |*out|.
  bool ReadInt(std::string_view key, int64_t* out, int64_t lo, int64_t hi, Need need);

  const Json& obj_;
  std::string what_;
  Status status_;
};

// Nesting allowed in JSON from outside: code that walks a value (dump(), masking, interpolation)
// recurses once per level, so a megabyte of "[[[[..." would overflow its stack.
inline constexpr int kMaxJsonDepth = 100;

// |text| parsed, or a discarded value (is_discarded()) when it is not JSON or nests deeper
// than |max_depth|. Never throws. Use it for everything that comes from outside.
Json ParseUntrusted(std::string_view text, int max_depth = kMaxJsonDepth);

// The JSON type of |j| as a message names it: "a string", "a number", "an object", ...
const char* JsonTypeName(const Json& j);

// Lenient lookups for values already validated (or where any other type means "absent"): the
// field when it has the wanted type, else |fallback|. They never throw.
std::string StringOr(const Json& obj, std::string_view key, std::string fallback = "");
int64_t IntOr(const Json& obj, std::string_view key, int64_t fallback);
bool BoolOr(const Json& obj, std::string_view key, bool fallback);

}  // namespace grove
