// POST /api/v1/jobs: enqueue a consumer job from an application (docs/api.md, "Consumer jobs").
#pragma once

#include "http/router.h"
#include "master/api.h"

namespace grove {

class Controller;

void AddJobRoutes(http::Router& router, Controller& controller, ConfigSource config);

}  // namespace grove
