// Masks secret values as "****" in text that arrives in pieces (a step's output).
//
// A secret can be split across two pieces ("pass" + "word"); the masker therefore holds back the
// end of what it has seen while that end could still be the start of a secret, and releases it
// with the next piece (or Flush at the end). The held-back tail is always shorter than the
// longest secret.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grove {

inline constexpr std::string_view kSecretMask = "****";

// Replaces every occurrence of every secret in |text| (longest secrets first).
std::string MaskSecrets(std::string_view text, const std::vector<std::string>& secrets);

class SecretMasker {
 public:
  explicit SecretMasker(std::vector<std::string> secrets);

  // Returns the masked text that is safe to send now.
  std::string Feed(std::string_view data);
  // Returns the rest (end of the stream).
  std::string Flush();
  bool empty() const { return secrets_.empty(); }

 private:
  std::vector<std::string> secrets_;  // longest first, no empty ones
  std::string held_;
};

}  // namespace grove
