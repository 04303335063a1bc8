// Webhook receivers: from a provider's HTTP call to changes (pure functions, no I/O).
//
//   github   X-Hub-Signature-256: sha256=HEX   HMAC-SHA256(secret, body); X-GitHub-Event
//   gitea    X-Gitea-Signature: HEX            HMAC-SHA256(secret, body); X-Gitea-Event
//   gitlab   X-Gitlab-Token: SECRET                                       X-Gitlab-Event
//   generic  Authorization: Bearer SECRET; body: one change or {"changes": [...]} (docs/api.md)
//
// A missing or wrong credential is 401 and yields nothing; a malformed body is 400; ping
// events and events other than pushes are answered 200 without changes. GitHub and Gitea may
// send the JSON form-encoded (Content-Type: application/x-www-form-urlencoded, payload=JSON).
#pragma once

#include <string>
#include <vector>

#include "http/http_types.h"
#include "store/store.h"

namespace grove {

struct HookOutcome {
  int status = 200;
  std::string message;  // the error, or what was done
  bool ping = false;
  // Oldest first per branch; a push's last change is its head (after / checkout_sha).
  std::vector<ChangeRecord> changes;
  // The provider's id of this delivery (X-GitHub-Delivery, X-Gitea-Delivery,
  // X-Gitlab-Event-UUID), "" when none; set only when there are changes.
  std::string delivery;
};

// |secret|: the provider's configured secret ("" = not configured → 404). |known_urls|: the
// configured git sources' urls: a payload whose repository is one of them (ignoring a trailing
// ".git" or "/" and case) gets that url as its changes' repository, so that on_change
// schedulers with source = git { ... } see webhook changes too.
HookOutcome ReceiveWebhook(const std::string& provider, const std::string& secret,
                           const http::Request& req, const std::vector<std::string>& known_urls);

// ISO 8601 time ("2026-01-02T03:04:05+01:00", "...Z") → ms since the epoch; 0 when unreadable.
int64_t ParseIsoTimeMs(const std::string& text);

}  // namespace grove
