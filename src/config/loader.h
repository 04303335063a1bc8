// LoadConfig with knobs that only tests turn.
#pragma once

#include <chrono>
#include <string>

#include "config/config.h"

namespace grove::config_internal {

struct LoadOptions {
  // grove.lua runs in milliseconds; a config still running after this has an endless loop, and
  // must not hang `grove checkconfig` or a reload forever.
  std::chrono::milliseconds time_limit{10000};
};

Status LoadConfigWithOptions(const std::string& path, const LoadOptions& options, Config* out);

}  // namespace grove::config_internal
