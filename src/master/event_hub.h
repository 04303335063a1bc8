// EventHub: the master's live updates for the web UI (Server-Sent Events at GET /api/v1/events).
//
// The Controller publishes what changed (a request queued, a build started, a step finished, a
// log grown, a worker connected or paused) after the change is committed. Publish() formats the
// frame once and hands it to every subscriber's sink, which only queues it: the core loop never
// waits on a browser. A subscriber that falls behind by more than its sink's bound is dropped;
// its EventSource reconnects and the page re-reads what it shows (drop-and-resync).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/protocol.h"
#include "http/http_types.h"

namespace grove {

class EventHub {
 public:
  void Subscribe(std::shared_ptr<http::StreamSink> sink);
  // Sends {"type": ..., ...} to every subscriber as one "data:" frame, with an increasing id.
  void Publish(const Json& event);
  // A comment frame that keeps proxies from timing the stream out and finds dead subscribers.
  void Ping();
  size_t subscribers() const;
  // Counts every Publish (subscribers or not): a cached answer built at generation G is still
  // right while generation() == G.
  uint64_t generation() const { return generation_.load(); }

 private:
  void Broadcast(const std::string& frame);

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<http::StreamSink>> sinks_;
  int64_t next_id_ = 1;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace grove
