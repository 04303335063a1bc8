// The queries behind Store's change and scheduler-state methods, as free functions over a
// sql::Db so that they live apart from sql_store.cc (which only delegates to them).
#pragma once

#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_changes {

Status AddChange(sql::Db& db, ChangeRecord* c);
Status ListChanges(sql::Db& db, int64_t before_id, int limit, std::vector<ChangeRecord>* out);
Status LatestChangeId(sql::Db& db, const std::string& repository, int64_t* id);
Status LastChangeRevision(sql::Db& db, const std::string& repository, const std::string& branch,
                          std::string* revision);
Status RememberDelivery(sql::Db& db, const std::string& provider, const std::string& delivery,
                        int64_t now, int64_t keep_ms, bool* first);
Status LinkRequestChanges(sql::Db& db, int64_t request_id, const std::vector<int64_t>& ids);
Status ChangesOfRequest(sql::Db& db, int64_t request_id, std::vector<ChangeRecord>* out);
Status GetSchedulerState(sql::Db& db, const std::string& name, SchedulerState* out);
Status PutSchedulerState(sql::Db& db, const std::string& name, const SchedulerState& state);
Status AdvanceSchedulerState(sql::Db& db, const std::string& name, const SchedulerState& state,
                             bool* advanced);

}  // namespace grove::sql_changes
