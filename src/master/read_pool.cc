#include "master/read_pool.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace grove {

struct ReadPool::Impl {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void(Store&)>> queue;
  bool stopping = false;
  std::vector<std::thread> threads;

  void Loop(Store& store) {
    for (;;) {
      std::function<void(Store&)> fn;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping && queue.empty()) return;
        fn = std::move(queue.front());
        queue.pop_front();
      }
      try {
        fn(store);
      } catch (const std::exception& e) {
        spdlog::error("internal error in API read: {}", e.what());
      }
    }
  }
};

ReadPool::ReadPool() = default;
ReadPool::~ReadPool() {
  Stop();
}

Status ReadPool::Start(const std::string& store_url, const std::string& base_dir, int threads,
                       const std::string& store_password) {
  impl_ = std::make_unique<Impl>();
  for (int i = 0; i < threads; ++i) {
    std::unique_ptr<Store> store;
    GROVE_RETURN_IF_ERROR(OpenStore(store_url, base_dir, &store, store_password));
    impl_->threads.emplace_back([impl = impl_.get(), s = std::move(store)]() { impl->Loop(*s); });
  }
  return Status::Ok();
}

void ReadPool::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_.reset();
}

void ReadPool::Run(std::function<void(Store&)> fn) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->queue.push_back(std::move(fn));
  }
  impl_->cv.notify_one();
}

}  // namespace grove
