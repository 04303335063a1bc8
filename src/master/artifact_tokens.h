// ArtifactTokens: the per-build tokens that let a build's steps upload and download artifacts.
// A token is HMAC-SHA256(master key, build id), so the master keeps no table of them and a token
// is worth nothing for any other build. The key lives in state/artifacts.key (created on first
// use, mode 0600), so tokens survive a master restart.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace grove {

class ArtifactTokens {
 public:
  static Status Open(const std::string& key_file, std::unique_ptr<ArtifactTokens>* out);
  // The key Open uses: read from |key_file|, or made (random, mode 0600) when it has none.
  static Status LoadOrCreateKey(const std::string& key_file, std::string* key);
  // For tests: a fixed key.
  explicit ArtifactTokens(std::string key) : key_(std::move(key)) {}

  std::string For(int64_t build_id) const;
  bool Valid(int64_t build_id, std::string_view token) const;

 private:
  std::string key_;
};

}  // namespace grove
