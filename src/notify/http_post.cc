#include "notify/http_post.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/secret_mask.h"
#include "notify/curl_util.h"

namespace grove::notify {

namespace {

constexpr size_t kMaxAnswer = 500;

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t len = size * n;
  if (out->size() < kMaxAnswer) out->append(data, std::min(len, kMaxAnswer - out->size()));
  return len;
}

std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string HmacSha256Hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

Outcome Post(const HttpPost& p, const std::vector<std::string>& secrets) {
  EnsureCurl();
  CurlHandle c(curl_easy_init());
  if (!c) return Outcome::Retry("cannot start libcurl");
  CURL* h = c.get();
  CurlList headers;
  for (const std::string& line : p.headers) Append(headers, line);
  std::string answer;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, p.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, p.body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(p.body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(p.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(p.timeout_ms, 10000)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  if (!p.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, p.ca_file.c_str());
  AbortWhen(h, p.aborting);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  answer = OneLine(secrets.empty() ? answer : MaskSecrets(answer, secrets));
  if (rc != CURLE_OK) return Outcome::Retry(std::string(error[0] ? error : curl_easy_strerror(rc)));
  std::string text = "HTTP " + std::to_string(status) + (answer.empty() ? "" : ": " + answer);
  if (status >= 200 && status < 300) return Outcome::Sent(text);
  if (status == 408 || status == 425 || status == 429 || status >= 500) return Outcome::Retry(text);
  return Outcome::Failed(text);
}

}  // namespace grove::notify
