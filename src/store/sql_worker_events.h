// The queries behind Store's applied-events record (several masters in distributed mode, issue
// 10), as free functions over a sql::Db; sql_store.cc delegates to them.
#pragma once

#include <cstdint>
#include <string>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_worker_events {

Status GetAppliedEvents(sql::Db& db, const std::string& worker, const std::string& instance,
                        int64_t* upto);
Status AdvanceAppliedEvents(sql::Db& db, const std::string& worker, const std::string& instance,
                            int64_t upto);

}  // namespace grove::sql_worker_events
