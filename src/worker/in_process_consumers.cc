#include "worker/in_process_consumers.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace grove {

// Calls wait in one queue. A thread is woken (or started) only when no thread is free to look
// at the queue already: a call submitted while a thread is between two calls, or just woken for
// an earlier one, takes no wake-up of its own. A thread that takes a call while others still
// wait makes sure, before running it, that another thread will look at them, so a call never
// waits behind a running one (consumers block for as long as they like) while the limit allows
// both; it waits at most for a thread to wake up. Consumers that return at once (most SDK
// consumers) thus run a burst of calls on one or two threads, with one wake-up per burst
// instead of one per call: a wake-up and the context switches around it were about a sixth of
// an SDK worker's CPU per job.
struct InProcessConsumers::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  std::vector<std::thread> threads;
  size_t idle = 0;   // threads blocked in cv.wait
  size_t wakes = 0;  // notifications sent to idle threads and not yet taken by one
  size_t free = 0;   // threads awake and not running a call: each looks at the queue soon
  size_t max_threads = 0;
  bool stopping = false;
  bool wake_posted = false;  // a deferred EnsureLooker waits in an io_context

  ~Pool() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      tasks.clear();
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
  }

  // Under mu: a thread will look at the queue soon, unless it is empty or one will already.
  void EnsureLooker() {
    if (tasks.empty() || free > 0) return;
    if (wakes < idle) {
      ++wakes;
      ++free;
      cv.notify_one();
    } else if (max_threads == 0 || threads.size() < max_threads) {
      ++free;
      threads.emplace_back([this] { Loop(); });
    }
    // Else every thread runs a call: the first to return takes the next.
  }

  void Submit(std::function<void()> task, boost::asio::io_context* io,
              const std::shared_ptr<Pool>& self) {
    std::lock_guard lock(mu);
    tasks.push_back(std::move(task));
    if (!io) return EnsureLooker();
    if (free > 0 || wake_posted) return;
    // Posted from io's own thread: it runs after the handlers io has ready (no system call).
    wake_posted = true;
    boost::asio::post(*io, WakeLater(self));
  }

  // The deferred EnsureLooker. Dropped without running (its io_context stopped and destroyed),
  // it clears wake_posted, so the next Submit posts another.
  struct WakeLater {
    std::weak_ptr<Pool> pool;  // empty once run or moved from
    explicit WakeLater(const std::shared_ptr<Pool>& p) : pool(p) {}
    WakeLater(WakeLater&& o) noexcept : pool(std::move(o.pool)) {}
    WakeLater& operator=(WakeLater&&) = delete;
    void operator()() {
      if (auto p = std::exchange(pool, {}).lock()) {
        std::lock_guard lock(p->mu);
        p->wake_posted = false;
        p->EnsureLooker();
      }
    }
    ~WakeLater() {
      if (auto p = pool.lock()) {
        std::lock_guard lock(p->mu);
        p->wake_posted = false;
      }
    }
  };

  // Started (or woken) counted in |free| by EnsureLooker.
  void Loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (tasks.empty()) {
        --free;
        ++idle;
        cv.wait(lock, [this] { return stopping || wakes > 0; });
        --idle;
        if (stopping) return;
        --wakes;  // the waker counted this thread in |free|
        continue;
      }
      std::function<void()> task = std::move(tasks.front());
      tasks.pop_front();
      --free;
      EnsureLooker();  // calls left: another thread takes them if this one blocks
      lock.unlock();
      task();
      task = nullptr;  // whatever it captured goes now, not when the next task arrives
      lock.lock();
      ++free;
    }
  }
};

InProcessConsumers::InProcessConsumers() : pool_(std::make_shared<Pool>()) {}
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

void InProcessConsumers::Submit(std::function<void()> task, boost::asio::io_context* io) {
  pool_->Submit(std::move(task), io, pool_);
}

}  // namespace grove
