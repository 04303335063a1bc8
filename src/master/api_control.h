// The HTTP API calls the web UI adds to v1: the live event stream (Server-Sent Events),
// running builds, a builder's queued requests, and queue control (cancel a request, stop a
// build, rebuild, pause and resume a worker). Access is decided by the router's guard (Auth).
#pragma once

#include "http/router.h"
#include "master/api.h"

namespace grove {

class Controller;
class EventHub;
class ReadPool;

void AddControlRoutes(http::Router& router, Controller& controller, ReadPool& reads, EventHub& hub,
                      ConfigSource config);

}  // namespace grove
