// The SQLite implementation of sql::Db.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "store/sql_db.h"

namespace grove::sql {

// Opens (creating it if needed) the SQLite database file at |path| and sets the connection up
// for the store: WAL journal (readers beside one writer), synchronous=NORMAL (durable at
// checkpoints, never corrupt), a 5 s busy timeout, foreign keys enforced.
Status OpenSqliteDb(const std::string& path, std::unique_ptr<Db>* out);

}  // namespace grove::sql
