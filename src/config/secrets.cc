#include "config/secrets.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config/file_util.h"

namespace grove::config_internal {

bool IsValidSecretName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

std::string SecretEnvName(const std::string& name) {
  std::string env = "GROVE_SECRET_";
  for (char c : name)
    env += (c == '-' || c == '.') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

Status ResolveSecret(const std::string& base_dir, const std::string& name, std::string* value) {
  std::string path = (std::filesystem::path(base_dir) / "secrets" / name).string();
  std::string env = SecretEnvName(name);
  std::string content;
  int error = 0;
  if (ReadWholeFile(path, &content, &error)) {
    // Editors add a final newline; `grove worker --secret-file` trims the same way.
    while (!content.empty() && std::isspace(static_cast<unsigned char>(content.back())))
      content.pop_back();
    if (content.empty()) return Status::Invalid("secret '" + name + "' is empty (" + path + ")");
    *value = std::move(content);
    return Status::Ok();
  }
  // A file that exists but cannot be read is reported, not silently replaced by the environment.
  if (error != ENOENT)
    return Status::IoError("cannot read secret '" + name + "' from " + path + ": " +
                           std::strerror(error));
  if (const char* from_env = std::getenv(env.c_str())) {
    if (*from_env == '\0') return Status::Invalid("secret '" + name + "' is empty ($" + env + ")");
    *value = from_env;
    return Status::Ok();
  }
  return Status::NotFound("secret '" + name + "' not found: create " + path + " or set $" + env);
}

}  // namespace grove::config_internal
