// CoreLoop: the thread that owns the master's writable Store and its decisions.
//
// Tasks posted from any thread run here in order. All tasks found waiting are run inside ONE
// transaction and committed together (group commit): a burst of a thousand worker events costs
// one fsync, not a thousand. Work that must wait for durability (acknowledging an event,
// answering an API call, sending a job) is registered with Txn::AfterCommit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace grove {

class Txn {
 public:
  explicit Txn(Store& store) : store_(store) {}
  Store& store() { return store_; }
  // Runs after the transaction's commit with its outcome.
  void AfterCommit(std::function<void(const Status&)> fn) { after_.push_back(std::move(fn)); }

 private:
  friend class CoreLoop;
  Store& store_;
  std::vector<std::function<void(const Status&)>> after_;
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

  // Figures for the benchmarks and the operations page.
  struct Stats {
    uint64_t tasks = 0;
    uint64_t commits = 0;
  };
  Stats stats() const;

  // False while the store cannot begin a transaction because its database is unreachable
  // (Status::Unavailable, PostgreSQL down): posted tasks then wait, unrun, until it is back.
  bool store_available() const { return store_available_.load(std::memory_order_relaxed); }

 private:
  void Run();

  std::unique_ptr<Store> store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::atomic<bool> store_available_{true};
  std::thread thread_;
};

}  // namespace grove
