// Re-reads grove.lua for a running master (SIGHUP) off the network thread.
//
// Evaluating a config can take up to its time limit (config_eval.h); the network thread must go
// on serving the API and the workers meanwhile. Request() only wakes the reloader's own thread,
// which evaluates the file in a child process and then posts the outcome to the io_context, where
// |apply| runs: the new config is applied there whole, or on any error not at all.
#pragma once

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "config/config_eval.h"

namespace grove {

class ConfigReloader {
 public:
  // |apply| runs on |net|'s thread with the outcome of one evaluation: an error, or the config.
  using ApplyFn = std::function<void(const Status&, std::shared_ptr<Config>)>;

  ConfigReloader(boost::asio::io_context& net, std::string path, ConfigLimits limits,
                 ApplyFn apply);
  // Kills an evaluation in progress and joins the thread; an outcome not yet applied is dropped.
  ~ConfigReloader();
  ConfigReloader(const ConfigReloader&) = delete;
  ConfigReloader& operator=(const ConfigReloader&) = delete;

  // Asks for an evaluation of the file as it is now. Requests made while one runs are merged
  // into one more evaluation after it. Any thread.
  void Request();

 private:
  void Run();

  boost::asio::io_context& net_;
  const std::string path_;
  const ConfigLimits limits_;
  ApplyFn apply_;
  int cancel_fd_ = -1;  // an eventfd: readable once the reloader stops
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace grove
