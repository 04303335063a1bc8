#include "worker/in_process_consumers.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace grove {

struct InProcessConsumers::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  std::vector<std::thread> threads;
  size_t idle = 0;
  size_t max_threads = 0;
  bool stopping = false;

  ~Pool() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      tasks.clear();
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
  }

  void Submit(std::function<void()> task) {
    std::lock_guard lock(mu);
    tasks.push_back(std::move(task));
    // A new thread only when every thread is busy: consumers block for as long as they like,
    // so a queued call must not wait behind a running one while the capacity allows both.
    if (idle < tasks.size() && (max_threads == 0 || threads.size() < max_threads))
      threads.emplace_back([this] { Loop(); });
    else
      cv.notify_one();
  }

  void Loop() {
    std::unique_lock lock(mu);
    while (true) {
      ++idle;
      cv.wait(lock, [this] { return stopping || !tasks.empty(); });
      --idle;
      if (stopping) return;
      std::function<void()> task = std::move(tasks.front());
      tasks.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // whatever it captured goes now, not when the next task arrives
      lock.lock();
    }
  }
};

InProcessConsumers::InProcessConsumers() : pool_(std::make_unique<Pool>()) {}
InProcessConsumers::~InProcessConsumers() = default;

void InProcessConsumers::Add(std::string name, InProcessConsumerFn fn) {
  fns_[std::move(name)] = std::move(fn);
}

const InProcessConsumerFn* InProcessConsumers::Find(const std::string& name) const {
  auto it = fns_.find(name);
  return it == fns_.end() ? nullptr : &it->second;
}

std::vector<std::string> InProcessConsumers::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, fn] : fns_) out.push_back(name);
  return out;
}

void InProcessConsumers::set_max_threads(int n) {
  std::lock_guard lock(pool_->mu);
  pool_->max_threads = n > 0 ? static_cast<size_t>(n) : 0;
}

void InProcessConsumers::Submit(std::function<void()> task) {
  pool_->Submit(std::move(task));
}

}  // namespace grove
