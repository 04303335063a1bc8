// Controller, the notifiers' part (issue 11): a build's start and end queue their notices in
// the same transaction, so a notice is never lost to a crash after the build's end is stored.
#include "master/controller.h"
#include "notify/outbox.h"
#include "notify/service.h"

namespace grove {

void Controller::QueueNotices(Txn& txn, int64_t build_id, const char* event) {
  if (!notices_ || build_id == 0 || config_->notify.empty()) return;
  if (notify::RecordNotices(txn.store(), *config_, build_id, event) == 0) return;
  txn.AfterCommit([notices = notices_](const Status& st) {
    if (st.ok()) notices->Wake();
  });
}

}  // namespace grove
