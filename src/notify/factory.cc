#include "notify/factory.h"

#include "notify/email_notifier.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeNotifier(const Config& config, const std::string& name,
                                       const NotifierEnv& env) {
  for (const auto& n : config.notify.email)
    if (n.common.name == name) return MakeEmailNotifier(n, env);
  return nullptr;
}

}  // namespace grove::notify
