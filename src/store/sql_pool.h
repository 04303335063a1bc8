// The queries behind Store's on-demand instance methods (issue 13), as free functions over a
// sql::Db; sql_store.cc delegates to them.
#pragma once

#include <string>
#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_pool {

Status PutPoolInstance(sql::Db& db, const PoolInstanceRecord& r);
Status DeletePoolInstance(sql::Db& db, const std::string& name);
Status ListPoolInstances(sql::Db& db, std::vector<PoolInstanceRecord>* out);

}  // namespace grove::sql_pool
