#include "master/core_loop.h"

#include <algorithm>

#include "core/log.h"

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
    size_t ran = 0;
    if (st.ok()) {
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
    }
    if (st.ok()) {
      st = store_->Commit();
      if (!st.ok()) (void)store_->Rollback();
    }
    {
      std::lock_guard lock(mu_);
      stats_.tasks += ran;
      stats_.commits += 1;
      if (!st.ok()) stats_.rollbacks += 1;
    }
    if (!st.ok()) {
      std::deque<Task> unrun(std::make_move_iterator(batch.begin() + ran),
                             std::make_move_iterator(batch.end()));
      spdlog::error("store: {} tasks rolled back ({}); {} to run again", ran, st.message(),
                    unrun.size());
      RecoverFrom(std::move(unrun));
    } else if (backoff_.count() > 0) {
      spdlog::info("store: writes succeed again");
      backoff_ = std::chrono::milliseconds(0);
    }
    for (auto& fn : txn.after_) fn(st);
  }
}

void CoreLoop::RecoverFrom(std::deque<Task> unrun) {
  (void)store_->Rollback();
  backoff_ =
      std::clamp(backoff_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(2000));
  for (auto& fn : on_rollback_) {
    try {
      fn(*store_);
    } catch (const std::exception& e) {
      spdlog::error("internal error while recovering from a rollback: {}", e.what());
    }
  }
  if (unrun.empty()) return;
  std::lock_guard lock(mu_);
  // Stopping: what never ran is dropped rather than retried forever on a store that fails.
  if (stopping_) return;
  for (auto it = unrun.rbegin(); it != unrun.rend(); ++it) queue_.push_front(std::move(*it));
}

}  // namespace grove
