#include "core/json_append.h"

#include <charconv>
#include <string_view>

namespace grove {

namespace {

// True when |s| is written as is between quotes: printable ASCII, no quote, no backslash.
bool Plain(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

void AppendString(std::string_view s, std::string* out) {
  if (!Plain(s)) {
    *out += Json(s).dump();  // escapes, UTF-8 checks: nlohmann's, byte for byte
    return;
  }
  out->reserve(out->size() + s.size() + 2);
  *out += '"';
  out->append(s);
  *out += '"';
}

template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

}  // namespace

void AppendJson(const Json& value, std::string* out) {
  switch (value.type()) {
    case Json::value_t::object: {
      *out += '{';
      bool first = true;
      for (const auto& [k, v] : value.items()) {
        if (!first) *out += ',';
        first = false;
        AppendString(k, out);
        *out += ':';
        AppendJson(v, out);
      }
      *out += '}';
      return;
    }
    case Json::value_t::array: {
      *out += '[';
      bool first = true;
      for (const Json& v : value) {
        if (!first) *out += ',';
        first = false;
        AppendJson(v, out);
      }
      *out += ']';
      return;
    }
    case Json::value_t::string:
      return AppendString(value.get_ref<const std::string&>(), out);
    case Json::value_t::number_integer:
      return AppendInt(value.get<int64_t>(), out);
    case Json::value_t::number_unsigned:
      return AppendInt(value.get<uint64_t>(), out);
    case Json::value_t::boolean:
      *out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      *out += "null";
      return;
    default:  // floating point (nlohmann's shortest round trip), binary, discarded
      *out += value.dump();
      return;
  }
}

}  // namespace grove
