// Makes the Notifier for a notifier of the config, by name.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/config.h"
#include "notify/build_control.h"
#include "notify/notifier.h"

namespace grove::notify {

struct NotifierEnv {
  BuildControl* control = nullptr;              // for the IRC bot's commands; may be null
  const std::atomic<bool>* aborting = nullptr;  // set when the master stops: sends give up
};

// nullptr when |config| has no notifier |name|.
std::unique_ptr<Notifier> MakeNotifier(const Config& config, const std::string& name,
                                       const NotifierEnv& env);

}  // namespace grove::notify
