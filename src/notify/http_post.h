// One HTTP POST with libcurl for the webhook and commit status notifiers, and what its answer
// means for the notice: 2xx sent; 408, 425, 429, 5xx and network errors retried; any other
// status failed for good (a wrong token or URL will not fix itself).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "notify/notifier.h"

namespace grove::notify {

struct HttpPost {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string ca_file;
  int64_t timeout_ms = 30000;
  const std::atomic<bool>* aborting = nullptr;
};

// |secrets| are masked out of the answer (a server may echo a header back).
Outcome Post(const HttpPost& post, const std::vector<std::string>& secrets = {});

// Lower-case hex HMAC-SHA256 of |body| with |key|.
std::string HmacSha256Hex(const std::string& key, const std::string& body);

}  // namespace grove::notify
