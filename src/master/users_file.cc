#include "master/users_file.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace grove {

namespace {

bool SodiumReady() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string Hex(const unsigned char* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

}  // namespace

const UserEntry* UsersData::Find(const std::string& name) const {
  for (const auto& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

Status LoadUsers(const std::string& path, UsersData* out) {
  *out = UsersData();
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return Status::Ok();
    return Status::IoError("cannot read the users file " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Invalid("the users file " + path + " is not valid JSON");
  try {
    for (const auto& u : j.value("users", nlohmann::json::array())) {
      UserEntry e{u.at("name").get<std::string>(), u.at("role").get<std::string>(),
                  u.at("password").get<std::string>()};
      if (!ValidRole(e.role))
        return Status::Invalid("the users file " + path + ": user '" + e.name +
                               "' has an unknown role '" + e.role + "'");
      out->users.push_back(std::move(e));
    }
    for (const auto& t : j.value("tokens", nlohmann::json::array())) {
      out->tokens.push_back({t.at("id").get<std::string>(), t.at("user").get<std::string>(),
                             t.at("hash").get<std::string>(), t.value("created_at", int64_t{0})});
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid("the users file " + path + " is malformed: " + e.what());
  }
  return Status::Ok();
}

Status SaveUsers(const std::string& path, const UsersData& data) {
  nlohmann::json j = {{"users", nlohmann::json::array()}, {"tokens", nlohmann::json::array()}};
  for (const auto& u : data.users)
    j["users"].push_back({{"name", u.name}, {"role", u.role}, {"password", u.password_hash}});
  for (const auto& t : data.tokens)
    j["tokens"].push_back(
        {{"id", t.id}, {"user", t.user}, {"hash", t.hash}, {"created_at", t.created_at}});
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream outf(tmp, std::ios::trunc);
    if (!outf) return Status::IoError("cannot write " + tmp);
    outf << j.dump(2) << "\n";
    if (!outf.flush()) return Status::IoError("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("cannot replace the users file " + path);
  return Status::Ok();
}

bool ValidRole(const std::string& role) {
  return role == "viewer" || role == "developer" || role == "admin";
}

int RoleRank(const std::string& role) {
  if (role == "viewer") return 1;
  if (role == "developer") return 2;
  if (role == "admin") return 3;
  return 0;
}

Status ValidUserName(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return Status::Invalid("a user name must have 1 to 64 characters");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '@'))
      return Status::Invalid("invalid user name '" + name +
                             "': use letters, digits and . _ - @ only");
  }
  return Status::Ok();
}

Status HashPassword(const std::string& password, std::string* hash) {
  if (!SodiumReady()) return Status::IoError("libsodium cannot be initialised");
  if (password.size() < 8) return Status::Invalid("a password needs at least 8 characters");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Status::IoError("out of memory while hashing the password");
  *hash = out;
  return Status::Ok();
}

bool VerifyPassword(const std::string& hash, const std::string& password) {
  if (!SodiumReady() || hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string RandomHex(size_t bytes) {
  SodiumReady();
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return Hex(buf.data(), buf.size());
}

std::string NewApiToken() {
  return "grove_" + RandomHex(32);
}

std::string TokenHash(const std::string& token) {
  SodiumReady();
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return Hex(out, sizeof out);
}

std::string CredentialFingerprint(const UserEntry& user) {
  return TokenHash(user.name + '\0' + user.password_hash);
}

bool SecretEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace grove
