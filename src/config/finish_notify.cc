// Whole-config checks of the notifiers: the builders they name must exist once grove.lua has
// run (globs such as "release-*" are taken as they are).
#include "config/finish.h"
#include "config/naming.h"

namespace grove::config_internal {

namespace {

bool IsGlob(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

Status CheckNotifier(const Config& config, const std::string& kind, const NotifierCommon& c) {
  std::vector<std::string> names;
  for (const BuilderConfig& b : config.builders) names.push_back(b.name);
  for (const std::string& pattern : c.builders) {
    if (IsGlob(pattern) || config.FindBuilder(pattern)) continue;
    return Status::Invalid(c.where + ": notify." + kind + " '" + c.name +
                           "' names unknown builder '" + pattern + "'" +
                           DidYouMean(pattern, names));
  }
  return Status::Ok();
}

}  // namespace

Status FinishNotifiers(LoadContext& ctx) {
  const Config& config = *ctx.config;
  for (const auto& n : config.notify.email)
    GROVE_RETURN_IF_ERROR(CheckNotifier(config, "email", n.common));
  for (const auto& n : config.notify.irc)
    GROVE_RETURN_IF_ERROR(CheckNotifier(config, "irc", n.common));
  for (const auto& n : config.notify.webhook)
    GROVE_RETURN_IF_ERROR(CheckNotifier(config, "webhook", n.common));
  for (const auto& n : config.notify.status)
    GROVE_RETURN_IF_ERROR(CheckNotifier(config, "status", n.common));
  return Status::Ok();
}

}  // namespace grove::config_internal
