// What the IRC bot may ask of the master: queue a build, describe the queue, name a builder's
// last build. The master implements it with its controller and read pool; every answer comes
// back through a callback, on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/protocol.h"
#include "core/status.h"

namespace grove::notify {

class BuildControl {
 public:
  virtual ~BuildControl() = default;
  // Queues a build of |builder|; |done| gets the request id, or why not.
  virtual void Force(const std::string& builder, const std::string& reason,
                     std::function<void(Status, int64_t)> done) = 0;
  // { "queued_count", "running_count", ... } as GET /api/v1/status answers (or why not).
  virtual void DescribeQueue(std::function<void(Status, Json)> done) = 0;
  // The newest build of |builder| as GET /api/v1/builds/{id} shows it (null: none yet).
  virtual void LastBuild(const std::string& builder, std::function<void(Status, Json)> done) = 0;
};

}  // namespace grove::notify
