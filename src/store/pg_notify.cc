#include "store/pg_notify.h"

#include <libpq-fe.h>

#include <vector>

#include "core/log.h"
#include "store/pg_db.h"
#include "store/pg_handles.h"

namespace grove::sql {
namespace {

struct FreeNotify {
  void operator()(PGnotify* n) const { PQfreemem(n); }
};
using NotifyPtr = std::unique_ptr<PGnotify, FreeNotify>;

}  // namespace

struct PgNotifyConnection::Impl {
  ConnPtr conn;
  std::string channel;
  int backend_pid = 0;
};

PgNotifyConnection::PgNotifyConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgNotifyConnection::~PgNotifyConnection() = default;

Status PgNotifyConnection::Open(const std::string& url, const std::string& password,
                                const std::string& channel,
                                std::unique_ptr<PgNotifyConnection>* out) {
  // The same defaults as the store's connections (pg_db.cc): keepalives find a dead server
  // even while nothing is sent, which is most of a listener's life.
  std::vector<const char*> keys = {"connect_timeout",  "keepalives_idle",  "keepalives_interval",
                                   "keepalives_count", "application_name", "dbname"};
  std::vector<const char*> values = {"10", "30", "10", "3", "grove-events", url.c_str()};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back("client_encoding");
  values.push_back("UTF8");
  keys.push_back(nullptr);
  values.push_back(nullptr);
  auto impl = std::make_unique<Impl>();
  impl->channel = channel;
  impl->conn.reset(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (impl->conn == nullptr) return Status::Unavailable("postgresql: out of memory");
  if (PQstatus(impl->conn.get()) != CONNECTION_OK)
    return Status::Unavailable("cannot connect to the store " + RedactPostgresUrl(url) + ": " +
                               PgOneLine(PQerrorMessage(impl->conn.get())));
  // A message the server sends between queries (the FATAL before it closes the connection)
  // goes to the log as one line, not to stderr.
  PQsetNoticeProcessor(
      impl->conn.get(),
      [](void*, const char* message) {
        spdlog::info("live events: the store says: {}", PgOneLine(message));
      },
      nullptr);
  char* quoted = PQescapeIdentifier(impl->conn.get(), channel.data(), channel.size());
  if (quoted == nullptr)
    return Status::Invalid("postgresql: bad channel name: " +
                           PgOneLine(PQerrorMessage(impl->conn.get())));
  const std::string listen = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  ResultPtr r(PQexec(impl->conn.get(), listen.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    return Status::Unavailable("postgresql: LISTEN failed: " +
                               PgOneLine(PQerrorMessage(impl->conn.get())));
  impl->backend_pid = PQbackendPID(impl->conn.get());
  out->reset(new PgNotifyConnection(std::move(impl)));
  return Status::Ok();
}

int PgNotifyConnection::socket() const {
  return PQstatus(impl_->conn.get()) == CONNECTION_OK ? PQsocket(impl_->conn.get()) : -1;
}

Status PgNotifyConnection::Notify(const std::string& payload) {
  if (payload.size() > kMaxPayload) return Status::Invalid("postgresql: notify payload too long");
  const char* params[2] = {impl_->channel.c_str(), payload.c_str()};
  ResultPtr r(PQexecParams(impl_->conn.get(), "SELECT pg_notify($1, $2)", 2, nullptr, params,
                           nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    const std::string why = PgOneLine(PQerrorMessage(impl_->conn.get()));
    return PQstatus(impl_->conn.get()) == CONNECTION_OK
               ? Status::IoError("postgresql: pg_notify failed: " + why)
               : Status::Unavailable("postgresql: the connection was lost: " + why);
  }
  return Status::Ok();
}

Status PgNotifyConnection::Drain(std::vector<Notification>* out) {
  PGconn* conn = impl_->conn.get();
  if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK)
    return Status::Unavailable("postgresql: the connection was lost: " +
                               PgOneLine(PQerrorMessage(conn)));
  while (NotifyPtr n{PQnotifies(conn)}) {
    out->push_back({n->extra ? n->extra : "", n->be_pid == impl_->backend_pid});
    PQconsumeInput(conn);
  }
  return Status::Ok();
}

}  // namespace grove::sql
