// The logger: the one global in Grove. A thin layer over spdlog so that the rest of the code
// does not depend on its headers' details.
#pragma once

#include <spdlog/spdlog.h>

#include "core/fmt_extern.h"

namespace grove {

// Sets up the default logger: "[time] [level] [component] message" on stderr.
// |level| is one of trace, debug, info, warn, error; unknown names mean info.
void InitLogging(const std::string& component, const std::string& level);

}  // namespace grove
