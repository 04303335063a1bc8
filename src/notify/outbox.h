// The writing half of the durable outbox (issue 11): on the core thread, inside the transaction
// that starts or finishes a build, one row per notifier that reports it. The delivery half is
// service.h.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "store/store.h"

namespace grove::notify {

struct NotifierInfo {
  std::string kind;  // "email" | "irc" | "webhook" | "status"
  const NotifierCommon* common = nullptr;
};
// Every notifier of |config|, in declaration order per kind.
std::vector<NotifierInfo> ListNotifiers(const Config& config);
// The notifier named |name|; nullptr when there is none.
const NotifierCommon* FindNotifier(const Config& config, const std::string& name,
                                   std::string* kind = nullptr);

// Adds the notices about build |build_id| for |event| ("started": commit statuses only, for
// builds of a change; "finished": every notifier whose builders, tags and mode cover the
// build's result) and returns how many were added. A finish notice supersedes a start notice
// of the same notifier that was not sent yet. Errors are logged, never returned: a notice must
// not undo the build's end.
int RecordNotices(Store& store, const Config& config, int64_t build_id, const std::string& event);

}  // namespace grove::notify
