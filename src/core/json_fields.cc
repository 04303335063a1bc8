#include "core/json_fields.h"

namespace grove {

const char* JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::binary:
      return "binary data";
    case Json::value_t::discarded:
      return "not JSON";
  }
  return "unknown";
}

JsonFields::JsonFields(const Json& obj, std::string what) : obj_(obj), what_(std::move(what)) {
  if (!obj_.is_object())
    status_ =
        Status::Invalid("malformed " + what_ + ": not a JSON object but " + JsonTypeName(obj_));
}

JsonFields& JsonFields::Fail(const std::string& problem) {
  if (status_.ok()) status_ = Status::Invalid("malformed " + what_ + ": " + problem);
  return *this;
}

const Json* JsonFields::Find(std::string_view key, Need need) {
  if (!status_.ok()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (need == Need::kRequired) Fail("'" + std::string(key) + "' is missing");
    return nullptr;
  }
  return &*it;
}

void JsonFields::WrongType(std::string_view key, const char* want, const Json& got) {
  Fail("'" + std::string(key) + "' must be " + want + ", not " + JsonTypeName(got));
}

JsonFields& JsonFields::Str(std::string_view key, std::string* out, Need need) {
  if (const Json* v = Find(key, need)) {
    if (!v->is_string()) {
      WrongType(key, "a string", *v);
    } else if (out) {
      *out = v->get_ref<const std::string&>();
    }
  }
  return *this;
}

bool JsonFields::ReadInt(std::string_view key, int64_t* out, int64_t lo, int64_t hi, Need need) {
  const Json* v = Find(key, need);
  if (!v) return false;
  if (!v->is_number_integer()) {
    WrongType(key, "an integer", *v);
    return false;
  }
  // Unsigned values above INT64_MAX do not fit: out of range like any other.
  bool fits = !v->is_number_unsigned() || v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  int64_t n = fits ? v->get<int64_t>() : 0;
  if (!fits || n < lo || n > hi) {
    std::string range = hi == INT64_MAX
                            ? std::to_string(lo) + " or more"
                            : "between " + std::to_string(lo) + " and " + std::to_string(hi);
    if (lo == INT64_MIN) range = "at most " + std::to_string(hi);
    Fail("'" + std::string(key) + "' must be " + range + ", not " + v->dump());
    return false;
  }
  *out = n;
  return true;
}

JsonFields& JsonFields::Int(std::string_view key, int64_t* out, int64_t lo, int64_t hi, Need need) {
  int64_t n = 0;
  if (ReadInt(key, &n, lo, hi, need) && out) *out = n;
  return *this;
}

JsonFields& JsonFields::Int(std::string_view key, int* out, int lo, int hi, Need need) {
  int64_t n = 0;
  if (ReadInt(key, &n, lo, hi, need) && out) *out = static_cast<int>(n);
  return *this;
}

JsonFields& JsonFields::Bool(std::string_view key, bool* out, Need need) {
  if (const Json* v = Find(key, need)) {
    if (!v->is_boolean()) {
      WrongType(key, "true or false", *v);
    } else if (out) {
      *out = v->get<bool>();
    }
  }
  return *this;
}

JsonFields& JsonFields::Object(std::string_view key, Json* out, Need need) {
  if (const Json* v = Find(key, need)) {
    if (!v->is_object()) {
      WrongType(key, "an object", *v);
    } else if (out) {
      *out = *v;
    }
  }
  return *this;
}

JsonFields& JsonFields::Array(std::string_view key, Json* out, Need need) {
  if (const Json* v = Find(key, need)) {
    if (!v->is_array()) {
      WrongType(key, "a list", *v);
    } else if (out) {
      *out = *v;
    }
  }
  return *this;
}

JsonFields& JsonFields::Any(std::string_view key, Json* out, Need need) {
  if (const Json* v = Find(key, need); v && out) *out = *v;
  return *this;
}

JsonFields& JsonFields::StrList(std::string_view key, std::vector<std::string>* out, Need need) {
  const Json* v = Find(key, need);
  if (!v) return *this;
  if (!v->is_array()) {
    WrongType(key, "a list of strings", *v);
    return *this;
  }
  std::vector<std::string> items;
  for (const Json& item : *v) {
    if (!item.is_string()) {
      Fail("'" + std::string(key) + "' must hold strings only, not " + JsonTypeName(item));
      return *this;
    }
    items.push_back(item.get<std::string>());
  }
  if (out) *out = std::move(items);
  return *this;
}

JsonFields& JsonFields::StrMap(std::string_view key, std::map<std::string, std::string>* out,
                               Need need) {
  const Json* v = Find(key, need);
  if (!v) return *this;
  if (!v->is_object()) {
    WrongType(key, "an object of strings", *v);
    return *this;
  }
  std::map<std::string, std::string> items;
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) {
      Fail("'" + std::string(key) + "." + k + "' must be a string, not " + JsonTypeName(item));
      return *this;
    }
    items[k] = item.get<std::string>();
  }
  if (out) *out = std::move(items);
  return *this;
}

JsonFields& JsonFields::CheckStr(std::string_view key, Need need) {
  return Str(key, nullptr, need);
}
JsonFields& JsonFields::CheckInt(std::string_view key, int64_t lo, int64_t hi, Need need) {
  return Int(key, static_cast<int64_t*>(nullptr), lo, hi, need);
}
JsonFields& JsonFields::CheckBool(std::string_view key, Need need) {
  return Bool(key, nullptr, need);
}
JsonFields& JsonFields::CheckObject(std::string_view key, Need need) {
  return Object(key, nullptr, need);
}
JsonFields& JsonFields::CheckArray(std::string_view key, Need need) {
  return Array(key, nullptr, need);
}

Json ParseUntrusted(std::string_view text, int max_depth) {
  // One pass over the text before the parser: brackets outside strings.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return Json(Json::value_t::discarded);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string StringOr(const Json& obj, std::string_view key, std::string fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t IntOr(const Json& obj, std::string_view key, int64_t fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return fallback;
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return fallback;
  return it->get<int64_t>();
}

bool BoolOr(const Json& obj, std::string_view key, bool fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace grove
