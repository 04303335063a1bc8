// The queries that let several masters share the requests (issue 10, "several masters"), as free
// functions over a sql::Db; sql_store.cc delegates to them. Every change of owner is one
// conditional UPDATE, so two masters deciding about the same request at once never both win.
#pragma once

#include <string>
#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_cluster {

Status QueuedHeads(sql::Db& db, int limit, std::vector<RequestRecord>* out);
Status ClaimedByOthers(sql::Db& db, const std::string& self, std::vector<ClaimedRequest>* out);
Status MoveRequest(sql::Db& db, int64_t id, int attempt, const std::string& worker,
                   const std::string& from, const std::string& to, bool* moved);
Status RequeueOwnedRequest(sql::Db& db, int64_t id, int attempt, const std::string& master,
                           bool* requeued);
Status LiveMasters(sql::Db& db, int64_t since, std::vector<std::string>* out);
Status SharedKey(sql::Db& db, const std::string& name, const std::string& proposed,
                 std::string* out);

}  // namespace grove::sql_cluster
