// Per-job tokens: what a running job shows the master to call its API (the trigger step).
//
// token = "REQUEST.ATTEMPT." + hex HMAC-SHA256(key, "REQUEST.ATTEMPT"), where the key is 32
// random bytes kept in the master's state/job-token.key (made on first start), so tokens stay
// valid across master restarts and nothing about them has to be stored per job. The master
// accepts a token only while that attempt is the request's current, claimed attempt.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "master/hmac.h"

namespace grove {

class JobTokens {
 public:
  explicit JobTokens(std::string_view key) : key_(key) {}

  // Reads |path|, or creates it (mode 0600) with a fresh random key.
  static Status LoadOrCreateKey(const std::string& path, std::string* key);

  std::string Make(int64_t request, int attempt) const;
  // True when |token| was made by Make with this key; fills request and attempt.
  bool Check(const std::string& token, int64_t* request, int* attempt) const;

 private:
  HmacSha256Key key_;
};

}  // namespace grove
