// JobQueue: the queued build requests, in the order the dispatcher offers them to workers
// (highest priority first, then oldest). An in-memory mirror of the store's "queued" requests,
// kept by the core loop, so that dispatching never scans the requests table.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

namespace grove {

struct RequestRecord;

struct QueuedRequest {
  int64_t id = 0;
  int priority = 0;
  std::string builder;
  // The request's row as this master inserted it, when kept (Controller::Queued says when):
  // its claim then starts the build without reading the row back.
  std::shared_ptr<const RequestRecord> fresh;

  bool operator<(const QueuedRequest& o) const {
    return priority != o.priority ? priority > o.priority : id < o.id;
  }
};

class JobQueue {
 public:
  using const_iterator = std::set<QueuedRequest>::const_iterator;

  void Add(QueuedRequest r) { items_.insert(std::move(r)); }
  const_iterator Erase(const_iterator it) { return items_.erase(it); }
  bool Remove(int64_t id, int priority) { return items_.erase({id, priority, {}}) > 0; }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  std::set<QueuedRequest> items_;
};

}  // namespace grove
