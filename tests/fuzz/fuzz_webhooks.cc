// The webhook receivers (master/webhooks.h) past their credential check: the first byte picks
// the provider, the second the event header, the rest is the body, signed as the provider would.
#include <cstdint>
#include <string>
#include <string_view>

#include "master/hmac.h"
#include "master/webhooks.h"

using namespace grove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const char* kProviders[] = {"github", "gitea", "gitlab", "generic"};
  static const char* kEvents[] = {"push", "Push Hook", "ping", "", "issues"};
  const std::string provider = kProviders[data[0] % 4];
  const std::string event = kEvents[data[1] % 5];
  const std::string secret = "fuzz-secret";
  http::Request req;
  req.method = "POST";
  req.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (provider == "github") {
    req.headers["x-hub-signature-256"] = "sha256=" + HmacSha256Hex(secret, req.body);
    req.headers["x-github-event"] = event;
  } else if (provider == "gitea") {
    req.headers["x-gitea-signature"] = HmacSha256Hex(secret, req.body);
    req.headers["x-gitea-event"] = event;
  } else if (provider == "gitlab") {
    req.headers["x-gitlab-token"] = secret;
    req.headers["x-gitlab-event"] = event;
  } else {
    req.headers["authorization"] = "Bearer " + secret;
  }
  HookOutcome out =
      ReceiveWebhook(provider, secret, req, {"https://example.org/grove.git", "git@h:x/y"});
  if (out.status == 200)
    for (const ChangeRecord& c : out.changes)
      if (c.repository.empty() || c.branch.empty() || c.revision.empty()) __builtin_trap();
  (void)ParseIsoTimeMs(std::string(req.body, 0, 64));
  return 0;
}
