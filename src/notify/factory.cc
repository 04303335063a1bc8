#include "notify/factory.h"

#include "notify/email_notifier.h"
#include "notify/irc_notifier.h"
#include "notify/status_notifier.h"
#include "notify/webhook_notifier.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeNotifier(const Config& config, const std::string& name,
                                       const NotifierEnv& env) {
  for (const auto& n : config.notify.email)
    if (n.common.name == name) return MakeEmailNotifier(n, env);
  for (const auto& n : config.notify.irc)
    if (n.common.name == name) return MakeIrcNotifier(n, config, env);
  for (const auto& n : config.notify.webhook)
    if (n.common.name == name) return MakeWebhookNotifier(n, env);
  for (const auto& n : config.notify.status)
    if (n.common.name == name) return MakeStatusNotifier(n, env);
  return nullptr;
}

}  // namespace grove::notify
