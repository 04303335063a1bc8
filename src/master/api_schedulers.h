// The HTTP API of schedulers and change sources:
//   GET  /api/v1/schedulers               schedulers with their next fire time
//   GET  /api/v1/changes                  changes, newest first (?limit, ?before)
//   POST /api/v1/hooks/{provider}         webhook receivers (master/webhooks.h)
//   POST /api/v1/trigger                  a trigger step starts builds (job token)
//   GET  /api/v1/trigger/requests/{id}    ... and follows them (job token)
// Hooks and trigger calls carry their own credentials (signatures, job tokens), so the router's
// guard lets them through (master/auth.cc, SelfAuthenticated).
#pragma once

#include "http/router.h"
#include "master/api.h"
#include "store/store.h"

namespace grove {

class JobTokens;
class ReadPool;
class Schedulers;

void AddSchedulerRoutes(http::Router& router, Schedulers& schedulers, ReadPool& reads,
                        const JobTokens& tokens, ConfigSource config);

// The JSON of a change as the API shows it.
Json ChangeJson(const ChangeRecord& c);

}  // namespace grove
