// Cluster: what lets several masters share one store (docs/operations.md, "Running several
// masters"). Each master has a stable name; every kRenewMs its own thread (never the network
// loop: these are blocking database calls, on a connection of its own):
//  - heart-beats the master's row in `masters` (url, started_at, last_seen, config hash);
//  - acquires or renews each lease it was asked to hold, by one atomic upsert that succeeds only
//    when the lease is free, expired, or already this master's; a held lease lasts kExpiryMs;
//  - tells the lease's owner (OnLease) when the lease is gained or lost. A lease whose renewal
//    could not be confirmed (the database unreachable) counts as lost before it can expire, so
//    two masters never both believe they hold it;
//  - reads the masters and leases back, for GET /api/v1/masters (Describe answers that last
//    snapshot without touching the database, so the network thread never waits on it).
// Lease times are the masters' wall clocks: their clocks must agree (NTP) to well under a second.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

class Cluster {
 public:
  // A dead holder's lease is taken over at most kExpiryMs + kRenewMs after its last renewal:
  // 9 s, inside the 10 s promised (docs/operations.md).
  static constexpr int64_t kRenewMs = 2000;
  static constexpr int64_t kExpiryMs = 7000;
  // A master not seen for this long is shown as not active.
  static constexpr int64_t kActiveMs = 10000;

  struct Options {
    std::string name;  // unique among the masters sharing the store
    std::string url;   // where its API answers, shown to the operator
    std::string config_hash;
    std::string store_url;
    std::string base_dir;
    std::string store_password;
  };
  // Called on the cluster's thread with true when the lease is gained, false when lost.
  using LeaseHandler = std::function<void(bool held)>;
  // What a round saw of the masters: |live|, those whose heartbeat is younger than the lease
  // expiry (this one included); |others_recent|, whether any other master was seen within
  // kRecentMs (until then a dead master's builds may still be waiting to be taken over).
  using PeersHandler = std::function<void(std::set<std::string> live, bool others_recent)>;
  static constexpr int64_t kRecentMs = 10 * 60 * 1000;

  explicit Cluster(Options opts);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Before Start: this master competes for |lease|.
  void OnLease(const std::string& lease, LeaseHandler handler);
  // Before Start: told after every successful round (on the cluster's thread).
  void OnPeers(PeersHandler handler) { peers_handler_ = std::move(handler); }
  // Opens the cluster's own connection to the store, runs the first heartbeat and lease round
  // (on the calling thread, so before the master serves), then starts the thread.
  Status Start();
  // Releases the held leases (so another master takes them over at once) and stops.
  void Stop();
  // Before Start: called on the cluster's thread when the snapshot changes other than in the
  // masters' last_seen (a master came or went, a lease moved, a configuration hash changed).
  void OnChange(std::function<void()> handler) { on_change_ = std::move(handler); }
  // After a reconfiguration: the hash of the configuration now in force.
  void SetConfigHash(std::string hash);
  // GET /api/v1/masters: the snapshot of the last round.
  Json Describe() const;
  // The active master holding |lease| in the last round's snapshot ('' when none).
  std::string LeaseHolder(const std::string& lease) const;

 private:
  struct Lease {
    LeaseHandler handler;
    bool held = false;
    int64_t confirmed_until = 0;  // ms: the expiry of the last renewal the database confirmed
  };
  struct Impl;

  void Round(Impl& db);
  void SetHeld(Lease& lease, bool held);

  Options opts_;
  int64_t started_at_ = 0;
  std::map<std::string, Lease> leases_;  // touched by the thread only, once started
  std::function<void()> on_change_;
  Json shape_;  // the thread's: the last snapshot without last_seen
  PeersHandler peers_handler_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string config_hash_;  // under mu_
  Json snapshot_;            // under mu_
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

// The hash shown for a configuration: hex SHA-256 of its evaluated JSON form (ConfigToJson)
// without the master's directory and without secret values.
std::string ConfigHash(const Json& config_json);

// The default instance name: the host name and the port the API listens on ("build1:8010").
std::string DefaultMasterName(int port);

}  // namespace grove
