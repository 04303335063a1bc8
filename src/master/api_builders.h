// GET /api/v1/builders: every builder with its last 5 builds (home page, grid, `grove status`),
// paged and filtered on request, kept serialised and compressed between changes.
#pragma once

#include "http/router.h"
#include "master/api.h"

namespace grove {

class EventHub;
class ReadPool;

void AddBuildersRoute(http::Router& router, ReadPool& reads, EventHub& hub, ConfigSource config);

}  // namespace grove
