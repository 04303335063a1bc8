// The Store over any sql::Db. Every query is written once, in SQL that SQLite and PostgreSQL
// both accept, so a PostgreSQL backend needs only a Db implementation, not a second Store.
#pragma once

#include <memory>
#include <string>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove {

// A Store on |db|, which must already hold the latest schema (sql::MigrateStore).
std::unique_ptr<Store> NewSqlStore(std::unique_ptr<sql::Db> db);

// The database of store |url| (see OpenStore), opened and migrated, as a plain SQL connection.
Status OpenMigratedDb(const std::string& url, const std::string& base_dir,
                      const std::string& password, std::unique_ptr<sql::Db>* out);

}  // namespace grove
