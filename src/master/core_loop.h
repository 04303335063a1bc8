// CoreLoop: the thread that owns the master's writable Store and its decisions.
//
// Tasks posted from any thread run here in order. All tasks found waiting are run inside ONE
// transaction and committed together (group commit): a burst of a thousand worker events costs
// one fsync, not a thousand. Tasks posted while a batch runs join it, up to 2 ms after it
// began, rather than wait for its commit and commit on their own. Work that must wait for
// durability (acknowledging an event, answering an API call, sending a job) is registered with
// Txn::AfterCommit; work that a worker waits for (a job to run: its slot is idle until the job
// arrives) with Txn::AfterCommitFirst, which runs before the rest.
//
// A batch is all or nothing. When the store cannot write (a full disk, an I/O error: the
// store dooms the transaction) or a task calls Txn::Fail, the whole batch is rolled back, the
// tasks not run yet go back to the front of the queue, the rollback handlers re-derive what
// their owners keep in memory from the store, every AfterCommit callback gets the error, and
// the loop waits (100 ms, doubling up to 2 s) before trying again. So memory never keeps a
// decision the store lost, and the master recovers by itself once writes succeed again.
//
// A database that cannot be reached at all (PostgreSQL down: Begin() answers Unavailable) is
// different: nothing ran, so nothing is rolled back; the batch waits, unrun, and is tried again
// every 250 ms.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/store.h"

namespace grove {

class Txn {
 public:
  explicit Txn(Store& store) : store_(store) {}
  Store& store() { return store_; }
  // Runs after the transaction's commit with its outcome.
  void AfterCommit(std::function<void(const Status&)> fn) { after_.push_back(std::move(fn)); }
  // The same for work somebody waits on to go on (a job message: the worker's slot idles until
  // it comes): runs before the AfterCommit callbacks, which may be many (a batch answers every
  // POST and acknowledges every worker's events in it). Tasks posted meanwhile still join the
  // batch: a commit at once cost PostgreSQL a round trip per batch and made the builds slower.
  void AfterCommitFirst(std::function<void(const Status&)> fn) { first_.push_back(std::move(fn)); }
  // Runs once after the batch's last task, before its commit (not when a task failed it):
  // writes that several tasks of a batch may share (a job's events that came apart in time but
  // run together). One per |owner| per batch: a second registration is ignored.
  void BeforeCommitOnce(const void* owner, std::function<void(Txn&)> fn) {
    for (const auto& [o, f] : before_)
      if (o == owner) return;
    before_.emplace_back(owner, std::move(fn));
  }
  // Rolls the whole batch back instead of committing it: a write that must not be lost failed.
  void Fail(Status why) {
    if (failure_.ok()) failure_ = std::move(why);
  }
  // Ok while the batch may still commit.
  Status status() const { return failure_.ok() ? store_.TransactionStatus() : failure_; }

 private:
  friend class CoreLoop;
  Store& store_;
  std::vector<std::function<void(const Status&)>> first_;
  std::vector<std::function<void(const Status&)>> after_;
  std::vector<std::pair<const void*, std::function<void(Txn&)>>> before_;
  Status failure_;
};

class CoreLoop {
 public:
  using Task = std::function<void(Txn&)>;

  explicit CoreLoop(std::unique_ptr<Store> store);
  ~CoreLoop();
  CoreLoop(const CoreLoop&) = delete;
  CoreLoop& operator=(const CoreLoop&) = delete;

  void Start();
  // Runs the tasks already posted, then stops the thread.
  void Stop();
  void Post(Task task);
  // Called on the loop's thread after a batch was rolled back, at the start of the next batch
  // whose transaction could begin (so a database that was unreachable is read once it is
  // back): whoever keeps state in memory that mirrors the store re-derives it. A handler that
  // cannot read the store answers an error; the batch then fails too and it is asked again.
  // Register before Start.
  void OnRollback(std::function<Status(Store&)> fn) { on_rollback_.push_back(std::move(fn)); }

  // Figures for the benchmarks and the operations page.
  struct Stats {
    uint64_t tasks = 0;
    uint64_t commits = 0;
    uint64_t rollbacks = 0;      // batches the store could not commit
    uint64_t joined_rounds = 0;  // times tasks posted during a batch joined it before its commit
  };
  Stats stats() const;

  // False while the store cannot begin a transaction because its database is unreachable
  // (Status::Unavailable, PostgreSQL down): posted tasks then wait, unrun, until it is back.
  bool store_available() const { return store_available_.load(std::memory_order_relaxed); }

 private:
  // How long after a batch began tasks posted meanwhile may still join it (Run).
  static constexpr std::chrono::milliseconds kJoinWithin{2};

  void Run();
  // Rolls the failed batch back; |unrun| goes back to the front of the queue.
  void RecoverFrom(std::deque<Task> unrun);

  std::unique_ptr<Store> store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  // Re-derives memory after a rollback (see OnRollback).
  Status Resync();
  // Puts |batch| back at the front of the queue and waits a little: the database is down.
  // False when stopping (the batch is dropped).
  bool WaitForStore(std::deque<Task> batch);

  std::vector<std::function<Status(Store&)>> on_rollback_;
  bool resync_pending_ = false;  // a batch was rolled back: memory is re-derived before the next
  std::chrono::milliseconds backoff_{0};  // wait before the next batch after a rollback
  bool stopping_ = false;
  Stats stats_;
  std::atomic<bool> store_available_{true};
  std::thread thread_;
};

}  // namespace grove
