// Durations as users write them in grove.lua and on the command line: "90s", "15m", "12h",
// "2d", "1w", "2y" (365 days), "1h30m", or a bare number of seconds.
#pragma once

#include <chrono>
#include <string_view>

#include "core/status.h"

namespace grove {

Status ParseDuration(std::string_view text, std::chrono::seconds* out);

}  // namespace grove
