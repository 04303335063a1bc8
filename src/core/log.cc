#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace grove {

void InitLogging(const std::string& component, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(component);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(spdlog::level::from_str(level));
  if (logger->level() == spdlog::level::off && level != "off")
    logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace grove
