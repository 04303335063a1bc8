// notify.email: one mail per notice (to the configured list, plus the change authors when
// send_to_authors is set) over SMTP with libcurl: STARTTLS, implicit TLS or plain, with AUTH.
#pragma once

#include <memory>

#include "notify/factory.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeEmailNotifier(const EmailNotifierConfig& config,
                                            const NotifierEnv& env);

}  // namespace grove::notify
