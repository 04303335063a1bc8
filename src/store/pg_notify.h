// One PostgreSQL connection for LISTEN/NOTIFY (several masters' live updates, see
// cluster/live_events.h): it listens on one channel and sends on it. Blocking calls: it is used
// from a thread of its own, never the master's network loop. The caller waits for input with
// poll() on socket() and then calls Drain(), which never blocks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove::sql {

class PgNotifyConnection {
 public:
  struct Notification {
    std::string payload;
    bool from_self = false;  // sent by this very connection (PostgreSQL echoes it back)
  };

  // Connects to |url| (as OpenPostgresDb; a non-empty |password| overrides the URL's) and runs
  // LISTEN |channel|. Unavailable when the server cannot be reached.
  static Status Open(const std::string& url, const std::string& password,
                     const std::string& channel, std::unique_ptr<PgNotifyConnection>* out);
  ~PgNotifyConnection();
  PgNotifyConnection(const PgNotifyConnection&) = delete;
  PgNotifyConnection& operator=(const PgNotifyConnection&) = delete;

  // The fd to poll for input (-1 when the connection is broken).
  int socket() const;
  // pg_notify(channel, payload). Delivered to the listeners when it is sent outside a
  // transaction, i.e. at once. The payload must be under 8000 bytes (PostgreSQL's limit).
  Status Notify(const std::string& payload);
  // Reads what the server sent without waiting and appends the notifications received.
  // Unavailable once the connection is broken.
  Status Drain(std::vector<Notification>* out);

  // PostgreSQL refuses payloads of 8000 bytes or more.
  static constexpr size_t kMaxPayload = 7999;

 private:
  struct Impl;
  explicit PgNotifyConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace grove::sql
