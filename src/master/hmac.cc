// OpenSSL 3 deprecates the SHA256_* functions in favour of EVP, whose contexts are allocated,
// looked up in a provider and freed per use: copying a keyed EVP_MAC context and freeing it was
// most of a token's cost. The plain hash state is a struct that copies by value. (A pragma, not
// OPENSSL_SUPPRESS_DEPRECATED: in a unity build the headers were included before this file.)
#include "master/hmac.h"

#include <openssl/crypto.h>

#include <cstring>
#include <map>
#include <string>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace grove {

HmacSha256Key::HmacSha256Key(std::string_view key) {
  unsigned char block[SHA256_CBLOCK] = {};
  if (key.size() > SHA256_CBLOCK) {
    // RFC 2104: a key longer than the block is hashed first.
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char pad[SHA256_CBLOCK];
  for (size_t i = 0; i < sizeof pad; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&inner_);
  SHA256_Update(&inner_, pad, sizeof pad);
  for (size_t i = 0; i < sizeof pad; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&outer_);
  SHA256_Update(&outer_, pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
}

void HmacSha256Key::AppendHex(std::string_view data, std::string* out) const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx = inner_;
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(digest, &ctx);
  ctx = outer_;
  SHA256_Update(&ctx, digest, sizeof digest);
  SHA256_Final(digest, &ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * sizeof digest);
  char* p = out->data() + at;
  for (unsigned char c : digest) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
}

#pragma GCC diagnostic pop

std::string HmacSha256Key::Hex(std::string_view data) const {
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  AppendHex(data, &out);
  return out;
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  // A master has a few keys (job tokens, artifact tokens, webhook secrets).
  thread_local std::map<std::string, HmacSha256Key, std::less<>> keyed;
  auto it = keyed.find(key);
  if (it == keyed.end()) {
    if (keyed.size() >= 16) keyed.clear();  // webhook secrets come and go with reconfigs
    it = keyed.emplace(std::string(key), HmacSha256Key(key)).first;
  }
  return it->second.Hex(data);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace grove
