// HMAC-SHA256 and constant-time comparison, for webhook signatures and job tokens.
#pragma once

#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace grove {

// HMAC-SHA256 under one key: the hash states after the key's inner and outer pads are computed
// once, so a MAC costs the hashing of its data and two blocks, and no allocation (a master
// makes two tokens per job, thousands a second in distributed mode).
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  // Appends the lower-case hex of HMAC-SHA256(key, data) to |out|.
  void AppendHex(std::string_view data, std::string* out) const;
  std::string Hex(std::string_view data) const;

 private:
  SHA256_CTX inner_;
  SHA256_CTX outer_;
};

// Lower-case hex of HMAC-SHA256(key, data) (the keyed states cached per key and thread).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares without revealing where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace grove
