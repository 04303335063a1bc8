#include "core/interpolate.h"

namespace grove {

namespace {

std::string PropertyText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Expands one ${...} body (what is between the braces).
Status Expand(std::string_view body, const Json& properties,
              const std::map<std::string, std::string>& secrets, std::string* out) {
  size_t colon = body.find(':');
  if (colon == std::string_view::npos)
    return Status::Invalid("'${" + std::string(body) +
                           "}' needs a kind: ${prop:NAME} or ${secret:NAME}");
  std::string_view kind = body.substr(0, colon);
  std::string_view rest = body.substr(colon + 1);
  if (kind == "prop") {
    std::string_view name = rest;
    std::string_view fallback;
    bool has_default = false;
    if (size_t d = rest.find(":-"); d != std::string_view::npos) {
      name = rest.substr(0, d);
      fallback = rest.substr(d + 2);
      has_default = true;
    }
    if (name.empty()) return Status::Invalid("'${" + std::string(body) + "}' has no property name");
    std::string key(name);
    if (properties.is_object() && properties.contains(key)) {
      std::string text = PropertyText(properties[key]);
      if (!text.empty() || !has_default) {
        out->append(text);
        return Status::Ok();
      }
    }
    if (!has_default) return Status::NotFound("property '" + key + "' is not set");
    out->append(fallback);
    return Status::Ok();
  }
  if (kind == "secret") {
    auto it = secrets.find(std::string(rest));
    if (it == secrets.end())
      return Status::NotFound("secret '" + std::string(rest) + "' is not available");
    out->append(it->second);
    return Status::Ok();
  }
  return Status::Invalid("unknown interpolation '${" + std::string(body) +
                         "}': use ${prop:NAME} or ${secret:NAME}");
}

}  // namespace

Status Interpolate(std::string_view in, const Json& properties,
                   const std::map<std::string, std::string>& secrets, std::string* out) {
  std::string result;
  result.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    size_t dollar = in.find('$', i);
    if (dollar == std::string_view::npos) {
      result.append(in.substr(i));
      break;
    }
    result.append(in.substr(i, dollar - i));
    if (in.substr(dollar, 3) == "$${") {
      result.append("${");
      i = dollar + 3;
      continue;
    }
    if (in.substr(dollar, 2) != "${") {
      result.push_back('$');
      i = dollar + 1;
      continue;
    }
    size_t close = in.find('}', dollar + 2);
    if (close == std::string_view::npos)
      return Status::Invalid("unterminated '${' in '" + std::string(in) + "'");
    GROVE_RETURN_IF_ERROR(
        Expand(in.substr(dollar + 2, close - dollar - 2), properties, secrets, &result));
    i = close + 1;
  }
  *out = std::move(result);
  return Status::Ok();
}

Status InterpolateJson(const Json& value, const Json& properties,
                       const std::map<std::string, std::string>& secrets, Json* out) {
  if (value.is_string()) {
    std::string s;
    GROVE_RETURN_IF_ERROR(Interpolate(value.get<std::string>(), properties, secrets, &s));
    *out = std::move(s);
    return Status::Ok();
  }
  if (value.is_object() || value.is_array()) {
    Json copy = value;
    for (auto& item : copy)
      GROVE_RETURN_IF_ERROR(InterpolateJson(item, properties, secrets, &item));
    *out = std::move(copy);
    return Status::Ok();
  }
  *out = value;
  return Status::Ok();
}

void CollectSecretNames(std::string_view in, std::set<std::string>* names) {
  constexpr std::string_view kOpen = "${secret:";
  for (size_t p = in.find(kOpen); p != std::string_view::npos; p = in.find(kOpen, p + 1)) {
    if (p > 0 && in[p - 1] == '$') continue;  // $${secret:x} is literal text
    size_t close = in.find('}', p);
    if (close == std::string_view::npos) return;
    names->insert(std::string(in.substr(p + kOpen.size(), close - p - kOpen.size())));
  }
}

void CollectSecretNamesInJson(const Json& value, std::set<std::string>* names) {
  if (value.is_string()) return CollectSecretNames(value.get_ref<const std::string&>(), names);
  if (value.is_object() || value.is_array())
    for (const auto& item : value) CollectSecretNamesInJson(item, names);
}

}  // namespace grove
