// NotifyService: the delivery half of the durable outbox (issue 11).
//
// One lane per notifier: a thread that takes the notifier's due notices, renders and sends
// them one at a time, and stores each outcome. Lanes never touch the master's writable store
// themselves: claiming notices (pending → sending) and storing outcomes go through the core
// loop (|RunOnCore|), so the core thread stays the only writer and a slow server never holds a
// lock. A coordinator thread checks (on its own read connection) which lanes have due notices,
// when woken after a build's end commits and once a second for retries.
//
// Delivery is at least once per notice, and exactly once unless the master stops while a
// notice is "sending": its outcome is then unknown and it is sent again at the next start.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "notify/build_control.h"
#include "store/store.h"

namespace grove::notify {

struct Outcome;

// Runs |task| with the master's writable store inside a core-loop transaction, then |done|
// with the commit's outcome (on the core thread: keep it short).
using RunOnCore =
    std::function<void(std::function<void(Store&)> task, std::function<void(const Status&)> done)>;

struct ServiceOptions {
  std::string store_url;
  std::string base_dir;
  int claim_batch = 16;                  // notices claimed per lane at a time
  std::chrono::milliseconds poll{1000};  // how often due retries are looked for
};

class NotifyService {
 public:
  // |control| serves the IRC bot's commands (may be null: the bot then only announces).
  NotifyService(RunOnCore core, ServiceOptions opts, BuildControl* control = nullptr);
  ~NotifyService();
  NotifyService(const NotifyService&) = delete;
  NotifyService& operator=(const NotifyService&) = delete;

  // Requeues the notices a stopped master left "sending", fails those of notifiers no longer
  // configured, and starts a lane per notifier. Call after the core loop has started.
  Status Start(std::shared_ptr<const Config> config);
  void Reconfigure(std::shared_ptr<const Config> config);
  // New notices were committed: look now rather than at the next poll.
  void Wake();
  // Called (on the core thread) after a notice's outcome is stored, with its build id: the web
  // UI's live updates. Set before Start.
  void SetOnUpdate(std::function<void(int64_t build_id)> fn) { on_update_ = std::move(fn); }
  // Stops the lanes (a notice being sent finishes or times out first). Call before the core
  // loop stops: the last outcomes go through it.
  void Stop();

  struct Stats {
    uint64_t sent = 0, retried = 0, failed = 0;
  };
  Stats stats() const;

 private:
  struct Lane;
  void Coordinate();
  void RunLane(Lane* lane);
  void Claim(const std::shared_ptr<Lane>& lane);
  void Finish(Lane* lane, NotificationRecord rec, const Outcome& outcome);
  void ApplyConfig(std::shared_ptr<const Config> config);  // under mu_

  RunOnCore core_;
  std::function<void(int64_t)> on_update_;
  ServiceOptions opts_;
  BuildControl* control_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::shared_ptr<const Config> config_;
  std::map<std::string, std::shared_ptr<Lane>> lanes_;
  std::vector<std::shared_ptr<Lane>> retired_;  // removed by a reconfig, not joined yet
  std::thread coordinator_;
  std::atomic<bool> aborting_{false};  // the master stops: sends in flight give up
  std::atomic<uint64_t> sent_{0}, retried_{0}, failed_{0};
};

}  // namespace grove::notify
