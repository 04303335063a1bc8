// A small blocking HTTP client (libcurl) for the command-line tools.
#pragma once

#include <string>

#include "core/status.h"

namespace grove {

struct HttpResult {
  long status = 0;
  std::string body;
};

// Unavailable when the master cannot be reached.
// A non-empty |token| is sent as "Authorization: Bearer TOKEN" (API tokens, `grove user token`).
Status HttpCall(const std::string& method, const std::string& url, const std::string& body,
                HttpResult* out, const std::string& token = "");

// The API token: |flag| (--token), else $GROVE_TOKEN, else none.
std::string ApiToken(const std::string& flag);

// The master's URL: --master, else $GROVE_MASTER, else http://127.0.0.1:8010.
std::string MasterUrl(const std::string& flag);

}  // namespace grove
