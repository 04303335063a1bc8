#include "store/sql_notify.h"

#include <algorithm>

#include "core/clock.h"

namespace grove {

// Defaults for Store implementations without notifications (test doubles).
Status Store::AddNotification(NotificationRecord*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::ClaimNotifications(const std::string&, int64_t, int,
                                 std::vector<NotificationRecord>*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::DueNotifications(const std::string&, int64_t, int, std::vector<int64_t>*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::UpdateNotification(const NotificationRecord&) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::GetNotification(int64_t, NotificationRecord*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::FindNotification(int64_t, const std::string&, const std::string&,
                               NotificationRecord*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::ListNotifications(int64_t, std::vector<NotificationRecord>*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::NotifiersWithWork(std::vector<std::string>*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::RequeueSendingNotifications(int64_t, const std::string&, int*) {
  return Status::Unavailable("store: notifications are not supported");
}
Status Store::FailNotifications(const std::string&, int64_t, const std::string&) {
  return Status::Unavailable("store: notifications are not supported");
}

namespace sql_notify {
namespace {

using sql::Query;

#define GROVE_NOTIFICATION_COLUMNS                                                      \
  "id, build_id, notifier, kind, event, state, attempts, next_at, answer, created_at, " \
  "updated_at, sent_at"

void ReadNotification(Query& q, NotificationRecord* n) {
  n->id = q.Int(0);
  n->build_id = q.Int(1);
  n->notifier = q.Text(2);
  n->kind = q.Text(3);
  n->event = q.Text(4);
  n->state = q.Text(5);
  n->attempts = static_cast<int>(q.Int(6));
  n->next_at = q.Int(7);
  n->answer = q.Text(8);
  n->created_at = q.Int(9);
  n->updated_at = q.Int(10);
  n->sent_at = q.Int(11);
}

Status ReadAll(Query& q, std::vector<NotificationRecord>* out) {
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    NotificationRecord n;
    ReadNotification(q, &n);
    out->push_back(std::move(n));
  }
}

}  // namespace

Status AddNotification(sql::Db& db, NotificationRecord* n) {
  const int64_t now = NowMs();
  if (n->created_at == 0) n->created_at = now;
  if (n->next_at == 0) n->next_at = n->created_at;
  n->state = "pending";
  n->updated_at = n->created_at;
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "INSERT INTO notifications (build_id, notifier, kind, event, state, next_at, created_at, "
      "updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6) "
      "ON CONFLICT (build_id, notifier, event) DO NOTHING RETURNING id",
      &q));
  q.Bind(1, n->build_id)
      .Bind(2, n->notifier)
      .Bind(3, n->kind)
      .Bind(4, n->event)
      .Bind(5, n->next_at)
      .Bind(6, n->created_at);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  n->id = row ? q.Int(0) : 0;
  return Status::Ok();
}

Status ClaimNotifications(sql::Db& db, const std::string& notifier, int64_t now, int limit,
                          std::vector<NotificationRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare(
      "UPDATE notifications SET state = 'sending', attempts = attempts + 1, updated_at = $2 "
      "WHERE id IN (SELECT id FROM notifications WHERE notifier = $1 AND "
      "state IN ('pending', 'retrying') AND next_at <= $2 ORDER BY id LIMIT $3) "
      "RETURNING " GROVE_NOTIFICATION_COLUMNS,
      &q));
  q.Bind(1, notifier).Bind(2, now).Bind(3, int64_t{limit});
  GROVE_RETURN_IF_ERROR(ReadAll(q, out));
  // RETURNING promises no order; notices go out oldest first.
  std::sort(out->begin(), out->end(),
            [](const NotificationRecord& a, const NotificationRecord& b) { return a.id < b.id; });
  return Status::Ok();
}

Status DueNotifications(sql::Db& db, const std::string& notifier, int64_t now, int limit,
                        std::vector<int64_t>* ids) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT id FROM notifications WHERE notifier = $1 AND "
                 "state IN ('pending', 'retrying') AND next_at <= $2 ORDER BY id LIMIT $3",
                 &q));
  q.Bind(1, notifier).Bind(2, now).Bind(3, int64_t{limit});
  ids->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    ids->push_back(q.Int(0));
  }
}

Status UpdateNotification(sql::Db& db, const NotificationRecord& n) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE notifications SET state = $2, next_at = $3, answer = $4, "
                 "updated_at = $5, sent_at = $6, attempts = $7 WHERE id = $1 RETURNING id",
                 &q));
  q.Bind(1, n.id)
      .Bind(2, n.state)
      .Bind(3, n.next_at)
      .Bind(4, n.answer)
      .Bind(5, n.updated_at)
      .Bind(6, n.sent_at)
      .Bind(7, int64_t{n.attempts});
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::NotFound("notification " + std::to_string(n.id) + " not found");
  return Status::Ok();
}

Status GetNotification(sql::Db& db, int64_t id, NotificationRecord* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT " GROVE_NOTIFICATION_COLUMNS " FROM notifications WHERE id = $1", &q));
  q.Bind(1, id);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::NotFound("notification " + std::to_string(id) + " not found");
  ReadNotification(q, out);
  return Status::Ok();
}

Status FindNotification(sql::Db& db, int64_t build_id, const std::string& notifier,
                        const std::string& event, NotificationRecord* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT " GROVE_NOTIFICATION_COLUMNS
                 " FROM notifications WHERE build_id = $1 AND notifier = $2 AND event = $3",
                 &q));
  q.Bind(1, build_id).Bind(2, notifier).Bind(3, event);
  bool row = false;
  GROVE_RETURN_IF_ERROR(q.Step(&row));
  if (!row) return Status::NotFound("no " + event + " notice of build " + std::to_string(build_id));
  ReadNotification(q, out);
  return Status::Ok();
}

Status ListNotifications(sql::Db& db, int64_t build_id, std::vector<NotificationRecord>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(db.Prepare("SELECT " GROVE_NOTIFICATION_COLUMNS
                                   " FROM notifications WHERE build_id = $1 ORDER BY id",
                                   &q));
  q.Bind(1, build_id);
  return ReadAll(q, out);
}

Status NotifiersWithWork(sql::Db& db, std::vector<std::string>* out) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("SELECT DISTINCT notifier FROM notifications WHERE "
                 "state IN ('pending', 'retrying', 'sending') ORDER BY notifier",
                 &q));
  out->clear();
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) return Status::Ok();
    out->emplace_back(q.Text(0));
  }
}

Status RequeueSendingNotifications(sql::Db& db, int64_t now, const std::string& why, int* count) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE notifications SET state = 'retrying', next_at = $1, answer = $2, "
                 "updated_at = $1 WHERE state = 'sending' RETURNING id",
                 &q));
  q.Bind(1, now).Bind(2, why);
  int n = 0;
  for (;;) {
    bool row = false;
    GROVE_RETURN_IF_ERROR(q.Step(&row));
    if (!row) break;
    ++n;
  }
  if (count) *count = n;
  return Status::Ok();
}

Status FailNotifications(sql::Db& db, const std::string& notifier, int64_t now,
                         const std::string& why) {
  Query q;
  GROVE_RETURN_IF_ERROR(
      db.Prepare("UPDATE notifications SET state = 'failed', answer = $3, updated_at = $2 "
                 "WHERE notifier = $1 AND state IN ('pending', 'retrying', 'sending')",
                 &q));
  return q.Bind(1, notifier).Bind(2, now).Bind(3, why).Run();
}

#undef GROVE_NOTIFICATION_COLUMNS

}  // namespace sql_notify
}  // namespace grove
