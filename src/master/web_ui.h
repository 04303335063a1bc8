// The web UI: static files embedded in the binary, served at / and /ui/...
#pragma once

#include "http/router.h"

namespace grove {

void AddWebUiRoutes(http::Router& router);

}  // namespace grove
