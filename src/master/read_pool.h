// ReadPool: a few threads, each with its own read Store connection, that answer the API's
// queries so that neither the network loop nor the core loop waits on a slow read
// (a page of a huge log, a long build list).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace grove {

class ReadPool {
 public:
  ReadPool();
  ~ReadPool();
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  Status Start(const std::string& store_url, const std::string& base_dir, int threads,
               const std::string& store_password = {});
  void Stop();
  // Runs |fn| on a pool thread with that thread's Store.
  void Run(std::function<void(Store&)> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grove
