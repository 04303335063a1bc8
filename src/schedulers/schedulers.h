// Schedulers: turn time and changes into build requests (DESIGN.md, "scheduler").
//
// Everything here runs on the core loop's thread (timers on the network io_context only post
// tasks to it), so a scheduler's fire, its requests and its stored state are one transaction:
//  - cron and periodic entries store the last slot they fired (scheduler_state), so that a
//    restart never fires a slot twice; slots missed while the master was down are skipped
//    (catch_up = "none") or fired once at start (catch_up = "once");
//  - changes (from the git pollers and webhooks) are stored, then matched against the
//    on_change schedulers: one request per builder for the newest change of each branch,
//    linked to every change it covers; with tree_stable, after that long without new changes;
//  - triggerable schedulers are started by trigger steps (Trigger below);
//  - with several masters, only the holder of the "schedulers" lease runs the cron and periodic
//    entries (SetActive), and a slot is fired only by the transaction that moves its stored
//    last_fire forward (Store::AdvanceSchedulerState), so no slot fires twice in the cluster.
// Pending tree-stable timers live in memory: a master restart forgets them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/cron.h"
#include "master/core_loop.h"

namespace boost::asio {
class io_context;
}

namespace grove {

class Controller;

class Schedulers {
 public:
  Schedulers(CoreLoop& core, boost::asio::io_context& net, Controller& controller,
             std::shared_ptr<const Config> config);
  ~Schedulers();
  Schedulers(const Schedulers&) = delete;
  Schedulers& operator=(const Schedulers&) = delete;

  // Loads the stored state and arms the timers.
  void Start();
  void Reconfigure(std::shared_ptr<const Config> config);
  // From any thread: whether this master holds the timed schedulers' lease (several masters,
  // cluster/cluster.h). Cron and periodic entries fire only while it is held; on gaining it
  // their state is read again from the store, where another master may have fired slots since.
  // Held from the start unless SetActive(false) is called before Start.
  void SetActive(bool active);

  // From any thread: stores |changes| and runs the on_change schedulers. |state_key| and
  // |state|, when |state_key| is not empty, are stored in the same transaction (a poller's
  // branch heads). |done| gets the outcome once durable.
  //
  // Both change sources (pollers and webhooks) come through here, so that one commit seen by
  // both is recorded once. Per (repository, branch), |changes| are oldest first, the branch's
  // new head last: when that head is the revision of the branch's newest stored change, the
  // push is already known and none of its changes are stored; otherwise the changes up to and
  // including that stored revision are dropped (already recorded) and the rest stored. A push
  // that moves a branch back to an older revision is new, and builds.
  void AddChanges(std::vector<ChangeRecord> changes, std::string state_key, Json state,
                  std::function<void(Status)> done);

  // From any thread: a webhook's changes, as AddChanges. |delivery|, the provider's delivery id
  // ("" when it sent none), is remembered in the store for kDeliveryKeepMs: a delivery seen
  // before stores nothing. |done| gets how many changes were stored.
  struct HookResult {
    Status status;
    size_t recorded = 0;
    bool duplicate_delivery = false;
  };
  static constexpr int64_t kDeliveryKeepMs = 7 * 24 * 3600 * 1000LL;
  void AddHookChanges(std::vector<ChangeRecord> changes, std::string provider, std::string delivery,
                      std::function<void(HookResult)> done);
  // From any thread: the stored state of |key| (an empty object when none).
  void LoadState(std::string key, std::function<void(Json)> done);

  // A trigger step of attempt |attempt| of request |parent| asks for builds of |target| (a
  // triggerable scheduler or a builder). Refused unless that attempt is still running.
  void Trigger(int64_t parent, int attempt, std::string target, Json properties,
               std::function<void(Status, std::vector<int64_t>)> done);

  // GET /api/v1/schedulers.
  void Describe(std::function<void(Json)> done);

 private:
  struct Timed {
    std::string kind;  // "cron" | "periodic"
    std::string name;
    CronSchedule cron;
    int64_t every_s = 0;
    std::vector<std::string> builders;
    std::string catch_up;
    std::string only_if_changed;
    Json properties;
    int64_t next = 0;          // epoch seconds; 0 = never
    bool catching_up = false;  // |next| is the catch-up fire for slots missed while down
    Json data;                 // stored with the last fire
  };
  struct Pending {  // an on_change scheduler's branch waiting for its tree to be stable
    std::vector<int64_t> changes;
    ChangeRecord newest;
    uint64_t generation = 0;
  };

  // The core loop may roll a batch back: what timed_ and pending_ were at the last commit is
  // kept (KeepIfCommitted registers the copy) and restored, with the timers, after a rollback.
  void KeepIfCommitted(Txn& txn);
  void RestoreCommitted();
  // After config_ changed: drops the tree-stable waits of schedulers that are gone, loads.
  void ApplyConfig(Txn& txn);
  void Load(Txn& txn);
  void Tick(Txn& txn);
  void Arm();
  void Fire(Txn& txn, Timed& t, int64_t slot);
  // Stores the changes of |changes| not recorded before (see AddChanges), dropping the others.
  Status StoreNewChanges(Txn& txn, std::vector<ChangeRecord>* changes);
  void MatchChanges(Txn& txn, const std::vector<ChangeRecord>& changes);
  void SubmitForChanges(Txn& txn, const OnChangeSchedulerConfig& s, const std::vector<int64_t>& ids,
                        const ChangeRecord& newest);
  void ArmTreeStable(const std::string& key, int64_t delay_s, uint64_t generation);
  int64_t NextAfter(const Timed& t, int64_t after_s) const;

  CoreLoop& core_;
  boost::asio::io_context& net_;
  Controller& controller_;
  std::shared_ptr<const Config> config_;
  std::map<std::string, Timed> timed_;
  std::map<std::string, Pending> pending_;  // "scheduler\nbranch"
  std::map<std::string, Timed> committed_timed_;
  std::map<std::string, Pending> committed_pending_;
  std::shared_ptr<const Config> committed_config_;  // what committed_timed_ was loaded from
  uint64_t arm_generation_ = 0;
  uint64_t tree_generation_ = 0;
  std::shared_ptr<std::atomic<bool>> alive_;
  bool active_ = true;  // core loop thread
};

// Whether |branch| matches one of |patterns| (exact names or shell globs); empty matches all.
bool BranchMatches(const std::vector<std::string>& patterns, const std::string& branch);
// Whether one of |files| matches one of the |globs| ('*' crosses '/'); empty globs match all.
bool FilesMatch(const std::vector<std::string>& globs, const std::vector<std::string>& files);

}  // namespace grove
