// The master's HTTP API v1 (JSON): builders, builds, steps and logs, requests, workers, force.
// Reads run on the ReadPool; writes go through the Controller on the core loop.
#pragma once

#include <functional>
#include <memory>

#include "config/config.h"
#include "http/router.h"

namespace grove {

class Controller;
class ReadPool;

using ConfigSource = std::function<std::shared_ptr<const Config>()>;

// |masters| (when set and not null) is GET /api/v1/status's "masters": a summary of the masters
// sharing the store.
void AddApiRoutes(http::Router& router, Controller& controller, ReadPool& reads,
                  ConfigSource config, std::function<Json()> masters = {});

}  // namespace grove
