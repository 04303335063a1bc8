// The queries behind Store's notification methods (the notifiers' durable outbox, issue 11), as
// free functions over a sql::Db; sql_store.cc delegates to them.
#pragma once

#include <string>
#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_notify {

Status AddNotification(sql::Db& db, NotificationRecord* n);
Status ClaimNotifications(sql::Db& db, const std::string& notifier, int64_t now, int limit,
                          std::vector<NotificationRecord>* out);
Status DueNotifications(sql::Db& db, const std::string& notifier, int64_t now, int limit,
                        std::vector<int64_t>* ids);
Status UpdateNotification(sql::Db& db, const NotificationRecord& n);
Status GetNotification(sql::Db& db, int64_t id, NotificationRecord* out);
Status FindNotification(sql::Db& db, int64_t build_id, const std::string& notifier,
                        const std::string& event, NotificationRecord* out);
Status ListNotifications(sql::Db& db, int64_t build_id, std::vector<NotificationRecord>* out);
Status NotifiersWithWork(sql::Db& db, std::vector<std::string>* out);
Status RequeueSendingNotifications(sql::Db& db, int64_t now, const std::string& why, int* count);
Status FailNotifications(sql::Db& db, const std::string& notifier, int64_t now,
                         const std::string& why);

}  // namespace grove::sql_notify
