#include "worker/spawn_pool.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace grove {
namespace {

class SpawnPool final : public boost::asio::execution_context::service {
 public:
  static boost::asio::execution_context::id id;

  explicit SpawnPool(boost::asio::execution_context& owner)
      : boost::asio::execution_context::service(owner) {
    // Two spawns can then be under way while the io thread goes on; more threads would only
    // add children competing for the same cores.
    const unsigned n = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited by the threads made here
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  ~SpawnPool() override { shutdown(); }

  // Called as the io_context is destroyed, before its scheduler: a spawn that finishes now
  // may still post its outcome (the handler is dropped undelivered).
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  void Run(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and nothing left to run
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

boost::asio::execution_context::id SpawnPool::id;

}  // namespace

void RunOnSpawnThread(boost::asio::io_context& io, std::function<void()> task) {
  boost::asio::use_service<SpawnPool>(io).Run(std::move(task));
}

}  // namespace grove
