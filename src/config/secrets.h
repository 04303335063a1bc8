// Secrets named in grove.lua (secret "w1") and where their values come from, so that grove.lua
// itself can be shared and committed without them.
#pragma once

#include <string>

#include "core/status.h"

namespace grove::config_internal {

// Whether |name| can name a secret: it becomes a file name under secrets/, so no '/' or "..".
bool IsValidSecretName(const std::string& name);

// "GROVE_SECRET_" + |name| upper-cased, with '-' and '.' as '_'.
std::string SecretEnvName(const std::string& name);

// The value of secret |name|: the file <base_dir>/secrets/<name> without trailing whitespace,
// or else environment variable SecretEnvName(name). Not found, unreadable or empty is an error.
Status ResolveSecret(const std::string& base_dir, const std::string& name, std::string* value);

}  // namespace grove::config_internal
