#include "master/core_loop.h"

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
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    Txn txn(*store_);
    Status st = store_->Begin();
    if (st.code() == Status::Code::kUnavailable) {
      // The database is unreachable (the store reconnects with backoff at each Begin). The
      // tasks wait, unrun: run against a store that records nothing, they would change the
      // master's memory (a job finished, a request dispatched) with no trace in the database.
      if (store_available_.exchange(false))
        spdlog::error("store: {}; work waits until it is back", st.message());
      std::unique_lock lock(mu_);
      batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.end()));
      queue_.swap(batch);
      cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
      if (stopping_) {
        spdlog::warn("store unavailable at stop: {} tasks not run", queue_.size());
        return;
      }
      continue;
    }
    if (!store_available_.exchange(true)) spdlog::info("store: available again");
    if (!st.ok()) spdlog::error("store: cannot begin a transaction: {}", st.message());
    for (auto& task : batch) {
      try {
        task(txn);
      } catch (const std::exception& e) {
        // A bug in one task must not take the master down or lose the others' writes.
        spdlog::error("internal error in master task: {}", e.what());
      }
    }
    if (st.ok()) {
      st = store_->Commit();
      if (!st.ok()) {
        spdlog::error("store: commit failed: {}", st.message());
        (void)store_->Rollback();
      }
    }
    {
      std::lock_guard lock(mu_);
      stats_.tasks += batch.size();
      stats_.commits += 1;
    }
    for (auto& fn : txn.after_) fn(st);
  }
}

}  // namespace grove
