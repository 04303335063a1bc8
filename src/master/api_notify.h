// The HTTP API of notifiers (issue 11):
//   GET /api/v1/builds/{id}/notifications   the build's notices: notifier, state, attempts and
//                                            the server's last answer
#pragma once

#include "http/router.h"

namespace grove {

class ReadPool;

void AddNotifyRoutes(http::Router& router, ReadPool& reads);

}  // namespace grove
