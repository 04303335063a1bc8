#include "master/api_notify.h"

#include "master/api_util.h"
#include "master/read_pool.h"

namespace grove {

namespace {

Json NotificationJson(const NotificationRecord& n) {
  return {{"id", n.id},
          {"build", n.build_id},
          {"notifier", n.notifier},
          {"kind", n.kind},
          {"event", n.event},
          {"state", n.state},
          {"attempts", n.attempts},
          {"next_attempt_at", n.state == "retrying" ? Json(n.next_at) : Json(nullptr)},
          {"answer", n.answer},
          {"created_at", n.created_at},
          {"updated_at", n.updated_at},
          {"sent_at", n.sent_at ? Json(n.sent_at) : Json(nullptr)}};
}

}  // namespace

void AddNotifyRoutes(http::Router& router, ReadPool& reads) {
  router.Add("GET", "/api/v1/builds/{id}/notifications",
             [&reads](const http::Request& req, http::Responder respond) {
               int64_t id;
               if (!ParseInt64(req.params[0], &id))
                 return respond(http::Response::Error(400, "invalid build id: " + req.params[0]));
               reads.Run([id, respond](Store& store) {
                 BuildRecord b;
                 Status st = store.GetBuild(id, &b);
                 if (!st.ok()) return respond(ErrorResponse(st));
                 std::vector<NotificationRecord> list;
                 st = store.ListNotifications(id, &list);
                 if (!st.ok()) return respond(ErrorResponse(st));
                 Json out = Json::array();
                 for (const auto& n : list) out.push_back(NotificationJson(n));
                 respond(http::Response::Json(200, out));
               });
             });
}

}  // namespace grove
