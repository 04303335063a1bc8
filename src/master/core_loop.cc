#include "master/core_loop.h"

#include <algorithm>

#include "core/log.h"
#include "metrics/master_metrics.h"

namespace grove {

CoreLoop::CoreLoop(std::unique_ptr<Store> store) : store_(std::move(store)) {}

CoreLoop::~CoreLoop() {
  Stop();
}

void CoreLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CoreLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CoreLoop::Post(Task task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

CoreLoop::Stats CoreLoop::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void CoreLoop::Run() {
  for (;;) {
    std::deque<Task> batch;
    {
      std::unique_lock lock(mu_);
      if (backoff_.count() > 0 && !stopping_)
        cv_.wait_for(lock, backoff_, [&] { return stopping_; });
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    Txn txn(*store_);
    Status st = store_->Begin();
    if (st.code() == Status::Code::kUnavailable) {
      // Run against a store that records nothing, the tasks would change the master's memory
      // (a job finished, a request dispatched) with no trace in the database: they wait.
      if (store_available_.exchange(false))
        spdlog::error("store: {}; work waits until it is back", st.message());
      if (!WaitForStore(std::move(batch))) return;
      continue;
    }
    if (!store_available_.exchange(true)) spdlog::info("store: available again");
    if (st.ok() && resync_pending_) st = Resync();
    size_t ran = 0;
    const auto batch_start = std::chrono::steady_clock::now();
    while (st.ok()) {
      while (ran < batch.size()) {
        try {
          batch[ran++](txn);
        } catch (const std::exception& e) {
          // A bug in one task must not take the master down or lose the others' writes.
          spdlog::error("internal error in master task: {}", e.what());
        }
        st = txn.status();
        if (!st.ok()) break;  // the rest would only be rolled back: they run again later
      }
      // Tasks posted while this batch ran (a worker's event, the next POST) join it instead of
      // waiting for its commit and then paying a commit of their own: one commit where there
      // were two, and each of them answered sooner. Bounded, so a steady stream of tasks still
      // lets the first ones' commit through.
      if (!st.ok() || std::chrono::steady_clock::now() - batch_start >= kJoinWithin) break;
      std::lock_guard lock(mu_);
      if (queue_.empty() || stopping_) break;
      while (!queue_.empty()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.joined_rounds;
    }
    // A hook may register another (it runs too) or fail the batch.
    for (size_t i = 0; st.ok() && i < txn.before_.size(); ++i) {
      try {
        auto fn = std::move(txn.before_[i].second);
        fn(txn);
      } catch (const std::exception& e) {
        spdlog::error("internal error before a commit: {}", e.what());
      }
      st = txn.status();
    }
    if (st.ok()) {
      const auto commit_start = std::chrono::steady_clock::now();
      st = store_->Commit();
      metrics::StoreCommit(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count());
      if (!st.ok()) (void)store_->Rollback();
    }
    {
      std::lock_guard lock(mu_);
      stats_.tasks += ran;
      stats_.commits += 1;
      if (!st.ok()) stats_.rollbacks += 1;
    }
    if (!st.ok()) {
      // A lost connection shows here when BEGIN waits for the first statement (PostgreSQL):
      // changes are refused with 503 from now on, as when Begin() itself fails.
      if (st.code() == Status::Code::kUnavailable && store_available_.exchange(false))
        spdlog::error("store: {}; work waits until it is back", st.message());
      std::deque<Task> unrun(std::make_move_iterator(batch.begin() + ran),
                             std::make_move_iterator(batch.end()));
      spdlog::error("store: {} tasks rolled back ({}); {} to run again", ran, st.message(),
                    unrun.size());
      RecoverFrom(std::move(unrun));
    } else if (backoff_.count() > 0) {
      spdlog::info("store: writes succeed again");
      backoff_ = std::chrono::milliseconds(0);
    }
    for (auto& fn : txn.first_) fn(st);
    for (auto& fn : txn.after_) fn(st);
  }
}

void CoreLoop::RecoverFrom(std::deque<Task> unrun) {
  (void)store_->Rollback();
  resync_pending_ = true;
  backoff_ =
      std::clamp(backoff_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(2000));
  if (unrun.empty()) return;
  std::lock_guard lock(mu_);
  // Stopping: what never ran is dropped rather than retried forever on a store that fails.
  if (stopping_) return;
  for (auto it = unrun.rbegin(); it != unrun.rend(); ++it) queue_.push_front(std::move(*it));
}

Status CoreLoop::Resync() {
  for (auto& fn : on_rollback_) {
    Status st;
    try {
      st = fn(*store_);
    } catch (const std::exception& e) {
      st = Status::IoError(std::string("internal error while recovering from a rollback: ") +
                           e.what());
    }
    if (!st.ok()) return st;
  }
  resync_pending_ = false;
  return Status::Ok();
}

bool CoreLoop::WaitForStore(std::deque<Task> batch) {
  std::unique_lock lock(mu_);
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
  cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
  if (!stopping_) return true;
  spdlog::warn("store unavailable at stop: {} tasks not run", queue_.size());
  return false;
}

}  // namespace grove
