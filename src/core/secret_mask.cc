#include "core/secret_mask.h"

#include <algorithm>

namespace grove {

namespace {

std::vector<std::string> Prepare(std::vector<std::string> secrets) {
  secrets.erase(std::remove_if(secrets.begin(), secrets.end(),
                               [](const std::string& s) { return s.empty(); }),
                secrets.end());
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  return secrets;
}

void ReplaceAll(std::string* text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    for (size_t p = text->find(s); p != std::string::npos;
         p = text->find(s, p + kSecretMask.size()))
      text->replace(p, s.size(), kSecretMask);
  }
}

}  // namespace

std::string MaskSecrets(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  ReplaceAll(&out, Prepare(secrets));
  return out;
}

SecretMasker::SecretMasker(std::vector<std::string> secrets)
    : secrets_(Prepare(std::move(secrets))) {}

std::string SecretMasker::Feed(std::string_view data) {
  if (secrets_.empty()) return std::string(data);
  held_.append(data);
  ReplaceAll(&held_, secrets_);
  // Hold back the longest tail that is a proper prefix of some secret.
  size_t hold = 0;
  for (const auto& s : secrets_) {
    size_t max = std::min(s.size() - 1, held_.size());
    for (size_t k = max; k > hold; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

std::string SecretMasker::Flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace grove
