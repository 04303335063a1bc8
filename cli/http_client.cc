#include "http_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>

namespace grove {

namespace {
size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
}  // namespace

Status HttpCall(const std::string& method, const std::string& url, const std::string& body,
                HttpResult* out, const std::string& token) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::IoError("cannot initialise libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  if (!token.empty())
    headers.reset(curl_slist_append(headers.release(), ("Authorization: Bearer " + token).c_str()));
  out->body.clear();
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &out->body);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  if (method != "GET") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK)
    return Status::Unavailable("cannot reach the master at " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &out->status);
  return Status::Ok();
}

std::string ApiToken(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("GROVE_TOKEN");
  return env ? env : "";
}

std::string MasterUrl(const std::string& flag) {
  std::string url = flag;
  if (url.empty())
    if (const char* env = std::getenv("GROVE_MASTER")) url = env;
  if (url.empty()) url = "http://127.0.0.1:8010";
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace grove
