// Store URLs as they may be shown: the password masked. Apart from the backends, so that code
// that only names a store (the config loader, its fuzzer) needs neither libpq nor SQLite.
#include "store/pg_db.h"
#include "store/store.h"

namespace grove {
namespace sql {

std::string RedactPostgresUrl(const std::string& url) {
  std::string out = url;
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = out.find_first_of("/?", start);
    const size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // A password given as a query parameter: ...?password=secret&sslmode=...
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&') continue;
    const size_t value = pos + 9;
    const size_t end = out.find('&', value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

}  // namespace sql

std::string RedactedStoreUrl(const std::string& url) {
  // Any scheme://user:password@... form, so that a mistyped scheme does not show it either.
  if (url.find("://") != std::string::npos) return sql::RedactPostgresUrl(url);
  return url;
}

}  // namespace grove
