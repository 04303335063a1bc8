// The master's local users and API tokens, kept in one JSON file in the master directory
// (web { users = "users" } by default; mode 0600). Passwords are stored as libsodium
// crypto_pwhash_str strings (argon2id, salted, memory-hard); API tokens are random 256-bit
// strings of which only a BLAKE2b hash is kept. `grove user ...` edits the file; a running
// master notices the change and reloads it (see Auth).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

struct UserEntry {
  std::string name;
  std::string role;  // "viewer" | "developer" | "admin"
  std::string password_hash;
};

struct TokenEntry {
  std::string id;  // short public name of the token (its first characters), for listing
  std::string user;
  std::string hash;
  int64_t created_at = 0;
};

struct UsersData {
  std::vector<UserEntry> users;
  std::vector<TokenEntry> tokens;

  const UserEntry* Find(const std::string& name) const;
};

// A missing file is an empty set of users (the master is then open; docs/web.md).
Status LoadUsers(const std::string& path, UsersData* out);
// Written to a temporary file and renamed over |path|, so a reader never sees half a file.
Status SaveUsers(const std::string& path, const UsersData& data);

bool ValidRole(const std::string& role);
int RoleRank(const std::string& role);  // none 0 < viewer 1 < developer 2 < admin 3
Status ValidUserName(const std::string& name);

Status HashPassword(const std::string& password, std::string* hash);
bool VerifyPassword(const std::string& hash, const std::string& password);

// Random URL-safe secrets: a new API token ("grove_" + 64 hex digits), a session id, a CSRF
// token.
std::string RandomHex(size_t bytes);
std::string NewApiToken();
std::string TokenHash(const std::string& token);

// A fingerprint of |user|'s credentials: a session remembers it at login and ends when it no
// longer matches (the password was changed; every new hash has a new salt, so even setting the
// same password again changes it).
std::string CredentialFingerprint(const UserEntry& user);

// Constant-time comparison for secrets.
bool SecretEquals(const std::string& a, const std::string& b);

}  // namespace grove
