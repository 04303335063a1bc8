#include "master/job_token.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "master/hmac.h"

namespace grove {

Status JobTokens::LoadOrCreateKey(const std::string& path, std::string* key) {
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.size() >= 32) {
      *key = text;
      return Status::Ok();
    }
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::IoError("cannot make a random job key");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
  std::string line = hex + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Status::IoError("cannot write " + path);
  *key = hex;
  return Status::Ok();
}

std::string JobTokens::Make(int64_t request, int attempt) const {
  char id[48];
  auto r1 = std::to_chars(id, id + sizeof id, request);
  *r1.ptr = '.';
  auto r2 = std::to_chars(r1.ptr + 1, id + sizeof id, attempt);
  const std::string_view text(id, static_cast<size_t>(r2.ptr - id));
  std::string token;
  token.reserve(text.size() + 1 + 2 * SHA256_DIGEST_LENGTH);
  token.append(text).push_back('.');
  key_.AppendHex(text, &token);
  return token;
}

bool JobTokens::Check(const std::string& token, int64_t* request, int* attempt) const {
  size_t a = token.find('.');
  if (a == std::string::npos) return false;
  size_t b = token.find('.', a + 1);
  if (b == std::string::npos) return false;
  const std::string_view id(token.data(), b);
  if (!ConstantTimeEquals(std::string_view(token).substr(b + 1), key_.Hex(id))) return false;
  auto r1 = std::from_chars(token.data(), token.data() + a, *request);
  auto r2 = std::from_chars(token.data() + a + 1, token.data() + b, *attempt);
  return r1.ec == std::errc() && r1.ptr == token.data() + a && r2.ec == std::errc() &&
         r2.ptr == token.data() + b;
}

}  // namespace grove
