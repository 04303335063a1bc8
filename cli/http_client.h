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
Status HttpCall(const std::string& method, const std::string& url, const std::string& body,
                HttpResult* out);

// The master's URL: --master, else $GROVE_MASTER, else http://127.0.0.1:8010.
std::string MasterUrl(const std::string& flag);

}  // namespace grove
