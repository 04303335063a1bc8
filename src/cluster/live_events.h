// LiveEvents: live updates across the masters sharing one PostgreSQL store (docs/operations.md,
// "Running several masters").
//
// What a master's EventHub publishes (after the change is committed) is queued here and sent by
// this class's thread as NOTIFY grove_events on a connection of its own; the same connection
// LISTENs, and what the other masters send is published into the local hub (PublishLocal), so a
// page on any master updates within a round trip of the commit on another. Events are small
// ({"type": "build", "id": 7, ...}): the pages re-read what changed. Several events go in one
// notification when they are queued together ({"from": MASTER, "events": [...]}, under
// PostgreSQL's 8000-byte limit).
//
// The connection is reopened with backoff (0.1 s doubling to 5 s) after it breaks. Whatever was
// sent meanwhile is lost, so after a reconnect the master publishes {"type": "resync"} to its
// own pages and sends one to the others: every page re-reads what it shows.
//
// Stopping a build through any master (embedded broker): a master asked to stop a build that
// runs on another master's worker sends {"type": "stop-build", "build": ID, "to": MASTER}; it is
// not an update for the pages, so the master named hands it to OnStopBuild's handler instead of
// its hub, and the others drop it.
//
// Never on the network thread: Send only queues and wakes the thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/fd_util.h"
#include "core/protocol.h"
#include "core/status.h"

namespace grove {

class EventHub;
namespace sql {
class PgNotifyConnection;
}

class LiveEvents {
 public:
  static constexpr const char* kChannel = "grove_events";

  struct Options {
    std::string name;  // this master's name, sent as "from"
    std::string store_url;
    std::string store_password;
  };
  LiveEvents(Options opts, EventHub& hub);
  ~LiveEvents();
  LiveEvents(const LiveEvents&) = delete;
  LiveEvents& operator=(const LiveEvents&) = delete;

  // Connects and starts listening (on the calling thread, so a master that answers already
  // hears the others; a failure is only logged, the thread keeps trying), then starts the thread.
  void Start();
  void Stop();
  // Queues |event| for the other masters. Thread-safe; never blocks.
  void Send(const Json& event);

  // Called on this class's thread with a build another master asks this one to stop.
  using StopHandler = std::function<void(int64_t build, const std::string& from)>;
  // Before Start.
  void OnStopBuild(StopHandler handler) { on_stop_ = std::move(handler); }
  // Asks master |to| to stop |build| (it runs there). Thread-safe; never blocks. Best effort:
  // lost if the connection to the store breaks before it is sent.
  void SendStopBuild(int64_t build, const std::string& to);
  // The build of a stop-build event addressed to |self|, or 0 (another master's, or not
  // {"type": "stop-build", "build": positive integer, "to": string}).
  static int64_t StopBuildFor(const Json& event, const std::string& self);

  // How many times the listening connection was reopened after it broke (for the log and
  // tests).
  uint64_t reconnects() const;

  // The notification payloads for |events| (each under the limit); an event too large to go
  // alone is replaced by a resync. Exposed for the unit test.
  static std::vector<std::string> Encode(const std::string& from, const std::vector<Json>& events,
                                         size_t limit);
  // Reads a payload another master sent: false (and nothing in |events|) unless it is
  // {"from": string, "events": [{"type": string, ...}, ...]}. Each event gets "from".
  static bool Decode(const std::string& payload, std::string* from, std::vector<Json>* events);

 private:
  void Run();
  // Sends what is queued; Unavailable when the connection broke.
  Status SendQueued();
  bool Connect();  // true when connected
  void Wake();

  Options opts_;
  EventHub& hub_;
  StopHandler on_stop_;
  UniqueFd wake_;  // eventfd: Send and Stop wake the thread's poll()
  mutable std::mutex mu_;
  std::vector<Json> queue_;                        // under mu_
  bool stopping_ = false;                          // under mu_
  uint64_t reconnects_ = 0;                        // under mu_
  std::unique_ptr<sql::PgNotifyConnection> conn_;  // the thread's, once started
  bool missed_ = false;  // the thread's: events may have been missed since the last connection
  std::thread thread_;
};

}  // namespace grove
