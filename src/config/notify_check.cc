#include "config/notify_check.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace grove {

namespace {

bool IsAddrChar(unsigned char c) {
  return c > 32 && c < 127 && c != '<' && c != '>' && c != '"' && c != '(' && c != ')' &&
         c != ',' && c != ';' && c != '\\' && c != '[' && c != ']';
}

bool IsBareAddress(std::string_view a) {
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size()) return false;
  if (a.find('@') != at) return false;
  for (unsigned char c : a)
    if (!IsAddrChar(c)) return false;
  std::string_view domain = a.substr(at + 1);
  if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string_view::npos)
    return false;
  for (unsigned char c : domain)
    if (!std::isalnum(c) && c != '-' && c != '.') return false;
  return true;
}

}  // namespace

bool IsMailAddress(std::string_view text, bool allow_display_name) {
  if (IsBareAddress(text)) return true;
  if (!allow_display_name) return false;
  size_t open = text.rfind('<');
  if (open == std::string_view::npos || text.back() != '>') return false;
  std::string_view name = text.substr(0, open);
  for (unsigned char c : name)
    if (c < 32 || c == '<' || c == '>' || c == 127) return false;
  return IsBareAddress(text.substr(open + 1, text.size() - open - 2));
}

std::string MailAddressOf(std::string_view text) {
  size_t open = text.rfind('<');
  size_t close = text.rfind('>');
  std::string_view a = text;
  if (open != std::string_view::npos && close != std::string_view::npos && close > open)
    a = text.substr(open + 1, close - open - 1);
  while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
  while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
  return IsBareAddress(a) ? std::string(a) : std::string();
}

bool IsIrcNick(std::string_view nick) {
  if (nick.empty() || nick.size() > 30) return false;
  auto special = [](char c) {
    return std::string_view("[]\\`_^{|}").find(c) != std::string_view::npos;
  };
  if (!std::isalpha(static_cast<unsigned char>(nick[0])) && !special(nick[0])) return false;
  for (char c : nick)
    if (!std::isalnum(static_cast<unsigned char>(c)) && !special(c) && c != '-') return false;
  return true;
}

bool IsIrcChannel(std::string_view channel) {
  if (channel.size() < 2 || channel.size() > 50) return false;
  if (channel[0] != '#' && channel[0] != '&') return false;
  for (unsigned char c : channel)
    if (c <= 32 || c == ',' || c == 7 || c == ':') return false;
  return true;
}

bool IsHttpUrl(const std::string& url, std::string* why) {
  struct Free {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
  };
  std::unique_ptr<CURLU, Free> u(curl_url());
  if (!u) {
    *why = "out of memory";
    return false;
  }
  if (url.find_first_of(" \t\r\n") != std::string::npos) {
    *why = "it contains white space";
    return false;
  }
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    *why = curl_url_strerror(rc);
    return false;
  }
  char* scheme = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
    *why = "it has no scheme";
    return false;
  }
  std::string s = scheme;
  curl_free(scheme);
  if (s != "http" && s != "https") {
    *why = "the scheme must be http or https, not " + s;
    return false;
  }
  char* host = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
    if (host) curl_free(host);
    *why = "it has no host";
    return false;
  }
  curl_free(host);
  return true;
}

}  // namespace grove
