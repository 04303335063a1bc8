// The PostgreSQL implementation of sql::Db, on libpq.
//
// Transactions and several masters. BeginWrite opens a READ COMMITTED transaction, not a
// SERIALIZABLE one. The store's writes are single statements that decide on their own
// (UPDATE requests ... WHERE state = 'queued' RETURNING, INSERT ... ON CONFLICT ... RETURNING):
// under READ COMMITTED a second writer of the same row waits for the first one's commit and
// then re-checks the WHERE clause against the committed row, so two masters can never both
// claim a request or get the same build number, and nothing ever has to be retried. SERIALIZABLE
// would make every group commit of the master liable to fail with a serialization error at
// COMMIT, after the master has already acted on the batch in memory. Work that must be taken by
// one master only (schedulers, pollers) is guarded by a lease row, not by the isolation level.
//
// Statement errors. Inside a transaction PostgreSQL aborts the whole transaction on a failed
// statement, where SQLite fails only the statement. The store's multi-statement operations run
// in a WriteScope, whose savepoint confines a failure to the operation; for a failed statement
// outside any savepoint, the rest of the transaction fails and Commit() reports the first error
// and rolls back (it never reports success for a transaction PostgreSQL rolled back). Text the
// server would refuse (invalid UTF-8, NUL bytes) is stored with U+FFFD instead, as SQLite
// would keep it, so that no value a user or a worker sends can make a statement fail.
//
// A lost connection (the server restarted, the network broke) makes every call return
// Status::Unavailable until a new connection is made. The Db reconnects by itself on the next
// call, at most once per backoff interval (0.1 s doubling to 5 s), so a master whose database
// is down fails fast and does not hammer it. A transaction that was open when the connection
// broke is gone: its statements and its Commit() report Unavailable, and the caller's
// Rollback() (or Commit()) ends it. BeginWrite on a connection found dead, and a SELECT outside
// a transaction, are retried once on a fresh connection: neither can have changed anything.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "store/sql_db.h"

namespace grove::sql {

// Connects to the database at |url| ("postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?...]" or
// "postgres://..."; every libpq URI parameter, such as sslmode, is honoured). A non-empty
// |password| overrides any password in the URL. Unavailable when the server cannot be reached
// (the message names the URL without its password).
Status OpenPostgresDb(const std::string& url, const std::string& password,
                      std::unique_ptr<Db>* out);

// |url| with its password (in the user info or a password= parameter) replaced by "***".
std::string RedactPostgresUrl(const std::string& url);

}  // namespace grove::sql
