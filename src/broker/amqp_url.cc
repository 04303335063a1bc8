#include "broker/amqp_url.h"

#include <amqp.h>

#include <cctype>
#include <set>
#include <string_view>
#include <vector>

namespace grove::amqp {

namespace {

constexpr const char* kKnownParams =
    "cacertfile, certfile, keyfile, verify, server_name_indication";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decodes one query component; false on a malformed escape.
bool PercentDecode(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int hi = i + 1 < in.size() ? HexDigit(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? HexDigit(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Percent-encodes what would change the meaning of a URL component (for Redacted()).
std::string PercentEncode(const std::string& in, const char* keep) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || std::string_view("-._~").find(c) != std::string_view::npos ||
        std::string_view(keep).find(c) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status ParseQuery(const std::string& query, AmqpUrl* u) {
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string item = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key, value;
    if (eq == std::string::npos || !PercentDecode(item.substr(0, eq), &key) ||
        !PercentDecode(item.substr(eq + 1), &value))
      return Status::Invalid("malformed broker URL parameter '" + item +
                             "' (expected NAME=VALUE, %XX-encoded)");
    if (!seen.insert(key).second)
      return Status::Invalid("broker URL parameter '" + key + "' is given twice");
    if (value.empty() && key != "verify")
      return Status::Invalid("broker URL parameter '" + key + "' is empty");
    if (key == "cacertfile") {
      u->cacertfile = value;
    } else if (key == "certfile") {
      u->certfile = value;
    } else if (key == "keyfile") {
      u->keyfile = value;
    } else if (key == "server_name_indication") {
      u->server_name = value;
    } else if (key == "verify") {
      if (value == "verify_peer") {
        u->verify_peer = true;
      } else if (value == "verify_none") {
        u->verify_peer = false;
      } else {
        return Status::Invalid(
            "broker URL parameter verify must be verify_peer or verify_none, not '" + value + "'");
      }
    } else {
      return Status::Invalid("unknown broker URL parameter '" + key + "' (known: " + kKnownParams +
                             ")");
    }
    if (!u->tls)
      return Status::Invalid("broker URL parameter '" + key + "' is for TLS: use an amqps:// URL");
  }
  if (u->certfile.empty() != u->keyfile.empty())
    return Status::Invalid(
        "broker URL parameters certfile and keyfile go together (the client certificate and "
        "its private key)");
  return Status::Ok();
}

}  // namespace

Status AmqpUrl::Parse(const std::string& url, AmqpUrl* out) {
  const bool tls = url.rfind("amqps://", 0) == 0;
  if (!tls && url.rfind("amqp://", 0) != 0)
    return Status::Invalid("broker URL must start with amqp:// or amqps:// (TLS)");
  size_t q = url.find('?');
  std::vector<char> buf(url.begin(), q == std::string::npos ? url.end() : url.begin() + q);
  buf.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK)
    return Status::Invalid(
        tls ? "malformed broker URL (expected "
              "amqps://user:pass@host:port/vhost?cacertfile=PATH)"
            : "malformed broker URL (expected amqp://user:pass@host:port/vhost)");
  AmqpUrl u;
  u.host = info.host;
  u.port = info.port;
  u.user = info.user;
  u.password = info.password;
  u.vhost = info.vhost;
  u.tls = tls;
  if (q != std::string::npos) GROVE_RETURN_IF_ERROR(ParseQuery(url.substr(q + 1), &u));
  *out = std::move(u);
  return Status::Ok();
}

std::string AmqpUrl::Redacted() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string s = (tls ? "amqps://" : "amqp://") + user + ":***@" + host_part + ":" +
                  std::to_string(port) + "/" + PercentEncode(vhost, "");
  std::vector<std::pair<const char*, std::string>> params;
  if (!cacertfile.empty()) params.emplace_back("cacertfile", cacertfile);
  if (!certfile.empty()) params.emplace_back("certfile", certfile);
  if (!keyfile.empty()) params.emplace_back("keyfile", keyfile);
  if (tls && !verify_peer) params.emplace_back("verify", "verify_none");
  if (!server_name.empty()) params.emplace_back("server_name_indication", server_name);
  for (size_t i = 0; i < params.size(); ++i)
    s += (i == 0 ? "?" : "&") + std::string(params[i].first) + "=" +
         PercentEncode(params[i].second, "/:");
  return s;
}

}  // namespace grove::amqp
