// ${...} interpolation of step arguments (DESIGN.md, "properties and ${...} interpolation").
//
//   ${prop:name}            the build property |name|; an error when it is not set
//   ${prop:name:-default}   the property, or |default| when it is not set or empty
//   ${secret:name}          the value of secret |name|
//   $${                     a literal "${"
//
// Pure functions: the worker interpolates each step just before running it, with the build's
// properties as they are at that moment (so a step sees got_revision set by an earlier one).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

// Property values that are not strings are written as JSON (numbers: 42, booleans: true).
Status Interpolate(std::string_view in, const Json& properties,
                   const std::map<std::string, std::string>& secrets, std::string* out);

// Interpolates every string inside |value| (object values and array items, recursively).
Status InterpolateJson(const Json& value, const Json& properties,
                       const std::map<std::string, std::string>& secrets, Json* out);

// The names of the secrets that ${secret:NAME} references in |in|.
void CollectSecretNames(std::string_view in, std::set<std::string>* names);
void CollectSecretNamesInJson(const Json& value, std::set<std::string>* names);

}  // namespace grove
