// libpq's handles as owning pointers and its messages as one line, shared by the PostgreSQL
// store (pg_db.cc) and its LISTEN connection (pg_notify.cc).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace grove::sql {

struct FinishConn {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, FinishConn>;
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// libpq's messages span lines ("ERROR:  ...\nDETAIL: ..."); a Status message is one line,
// without libpq's "ERROR: " or "FATAL: " prefix.
std::string PgOneLine(const char* text);

}  // namespace grove::sql
