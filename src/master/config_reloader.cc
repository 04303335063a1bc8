#include "master/config_reloader.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "core/log.h"

namespace grove {

ConfigReloader::ConfigReloader(boost::asio::io_context& net, std::string path, ConfigLimits limits,
                               ApplyFn apply)
    : net_(net), path_(std::move(path)), limits_(limits), apply_(std::move(apply)) {
  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { Run(); });
}

ConfigReloader::~ConfigReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (cancel_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(cancel_fd_, &one, sizeof one);
  }
  thread_.join();
  if (cancel_fd_ >= 0) ::close(cancel_fd_);
}

void ConfigReloader::Request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

void ConfigReloader::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return requested_ || stopping_; });
      if (stopping_) return;
      requested_ = false;
    }
    spdlog::info("reconfig: evaluating {}", path_);
    EvalOptions options;
    options.limits = limits_;
    options.cancel_fd = cancel_fd_;
    auto fresh = std::make_shared<Config>();
    Status st = EvaluateConfig(path_, options, fresh.get());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    boost::asio::post(net_, [apply = apply_, st, fresh] { apply(st, st.ok() ? fresh : nullptr); });
  }
}

}  // namespace grove
