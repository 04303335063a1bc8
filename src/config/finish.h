// The checks that need the whole config (a builder may name a worker declared further down),
// and the defaults that depend on it.
#pragma once

#include "config/load_context.h"
#include "core/status.h"

namespace grove::config_internal {

// Run once grove.lua has finished; errors are "WHERE: message" like those raised while it runs.
Status FinishConfig(LoadContext& ctx);
// The part for schedulers, change sources and trigger steps (finish_schedulers.cc).
Status FinishSchedulers(LoadContext& ctx);
// The part for notifiers (finish_notify.cc).
Status FinishNotifiers(LoadContext& ctx);

// Shared by the parts: Invalid("WHERE: MESSAGE"), and the builders' names in declaration order.
Status ErrorAt(const std::string& where, const std::string& message);
std::vector<std::string> BuilderNames(const Config& config);

}  // namespace grove::config_internal
