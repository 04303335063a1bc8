#include "master/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <memory>
#include <string>

namespace grove {

namespace {

struct MacFree {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

// HMAC() looks the algorithms up and keys a new context on every call: with a token or two per
// job, that was a visible part of the master's CPU per job. A context keyed once per key (a
// master has a few: job tokens, artifact tokens, webhook secrets) is copied per call instead.
EVP_MAC_CTX* KeyedContext(std::string_view key) {
  thread_local std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  thread_local std::map<std::string, MacCtxPtr, std::less<>> keyed;
  if (!mac) return nullptr;
  auto it = keyed.find(key);
  if (it != keyed.end()) return it->second.get();
  if (keyed.size() >= 16) keyed.clear();  // webhook secrets come and go with reconfigs
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1)
    return nullptr;
  return keyed.emplace(std::string(key), std::move(ctx)).first->second.get();
}

bool KeyedHmac(std::string_view key, std::string_view data, unsigned char* mac, size_t* len) {
  EVP_MAC_CTX* keyed = KeyedContext(key);
  if (!keyed) return false;
  MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed));
  return ctx &&
         EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                        data.size()) == 1 &&
         EVP_MAC_final(ctx.get(), mac, len, EVP_MAX_MD_SIZE) == 1;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (!KeyedHmac(key, data, mac, &len)) {
    unsigned int n = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &n);
    len = n;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace grove
