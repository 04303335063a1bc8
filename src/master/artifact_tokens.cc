#include "master/artifact_tokens.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "master/hmac.h"

namespace grove {

Status ArtifactTokens::Open(const std::string& key_file, std::unique_ptr<ArtifactTokens>* out) {
  std::string key;
  GROVE_RETURN_IF_ERROR(LoadOrCreateKey(key_file, &key));
  *out = std::make_unique<ArtifactTokens>(std::move(key));
  return Status::Ok();
}

Status ArtifactTokens::LoadOrCreateKey(const std::string& key_file, std::string* out) {
  std::ifstream in(key_file, std::ios::binary);
  std::string key;
  if (in) {
    std::stringstream buf;
    buf << in.rdbuf();
    key = buf.str();
  }
  if (key.size() < 32) {
    key.assign(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1)
      return Status::IoError("cannot make a random key for artifact tokens");
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(key_file).parent_path(), ec);
    int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) {
      if (fd >= 0) ::close(fd);
      return Status::IoError("cannot write " + key_file);
    }
    ::close(fd);
  }
  *out = std::move(key);
  return Status::Ok();
}

std::string ArtifactTokens::For(int64_t build_id) const {
  return HmacSha256Hex(key_, "grove-artifacts:" + std::to_string(build_id));
}

bool ArtifactTokens::Valid(int64_t build_id, std::string_view token) const {
  std::string want = For(build_id);
  return token.size() == want.size() && CRYPTO_memcmp(token.data(), want.data(), want.size()) == 0;
}

}  // namespace grove
