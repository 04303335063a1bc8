// The store's schema, as numbered migrations applied in order when a store is opened.
//
// Each migration runs once: the schema_version table records the versions applied. A released
// migration is never edited; a schema change is a new migration at the end of the list.
#pragma once

#include "core/status.h"
#include "store/sql_db.h"

namespace grove::sql {

// The schema version this build of Grove writes.
int LatestSchemaVersion();

// Brings |db| to the latest schema inside one write transaction (so two processes opening the
// same new database do not both migrate). |*applied| (optional) receives how many migrations
// ran. Fails with Invalid on a database from a newer Grove.
Status MigrateStore(Db* db, int* applied = nullptr);

}  // namespace grove::sql
