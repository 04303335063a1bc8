// notify.webhook: a JSON POST of the build (signed with HMAC-SHA256 when a secret is set), or a
// Slack- or Mattermost-compatible incoming-webhook message.
#pragma once

#include <memory>

#include "notify/factory.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeWebhookNotifier(const WebhookNotifierConfig& config,
                                              const NotifierEnv& env);

// The JSON document of format "json" (docs/config.md shows it).
Json BuildDocument(const Notice& n, const std::string& text);

}  // namespace grove::notify
