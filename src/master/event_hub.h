// EventHub: the master's live updates for the web UI (Server-Sent Events at GET /api/v1/events).
//
// The Controller publishes what changed (a request queued, a build started, a step finished, a
// log grown, a worker connected or paused) after the change is committed. Publish() formats the
// frame once and hands it to every subscriber's sink, which only queues it: the core loop never
// waits on a browser. A subscriber that falls behind by more than its sink's bound is dropped;
// its EventSource reconnects and the page re-reads what it shows (drop-and-resync).
//
// Several masters on one PostgreSQL store: what this master publishes is also handed to the
// forwarder (cluster/live_events.h sends it to the other masters), and what the other masters
// publish comes back in through PublishLocal, so every master's pages update live.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/protocol.h"
#include "http/http_types.h"

namespace grove {

class EventHub {
 public:
  void Subscribe(std::shared_ptr<http::StreamSink> sink);
  // Set before anything publishes: receives every event given to Publish (not PublishLocal).
  void SetForwarder(std::function<void(const Json&)> forward) { forward_ = std::move(forward); }
  // Receives every event (Publish and PublishLocal) before any subscriber is sent it, so that
  // what an observer derives from it (a cache's generation) is up to date by the time a client
  // that saw the event asks again. Called on the publishing thread: it must be quick.
  void Observe(std::function<void(const Json&)> observer);
  // A change this master made: sends {"type": ..., ...} to every subscriber as one "data:"
  // frame, with an increasing id, and hands it to the forwarder.
  void Publish(const Json& event);
  // The same without the forwarder: another master's change, or news of this master only.
  void PublishLocal(const Json& event);
  // A comment frame that keeps proxies from timing the stream out and finds dead subscribers.
  void Ping();
  size_t subscribers() const;
  // Whether anything but the observers receives events now (a subscriber, the forwarder): if
  // not, a publisher may leave out the events no observer reads ("request", "step", "log"),
  // and call Resync after its change if a subscriber came meanwhile.
  bool Listened() const;
  // Sends every subscriber the "hello" frame again: the page reads its data once more.
  void Resync();
  // Counts every Publish (subscribers or not): a cached answer built at generation G is still
  // right while generation() == G.
  uint64_t generation() const { return generation_.load(); }

 private:
  void Broadcast(const std::string& frame);

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<http::StreamSink>> sinks_;
  int64_t next_id_ = 1;
  std::function<void(const Json&)> forward_;
  std::vector<std::function<void(const Json&)>> observers_;  // under mu_
  std::atomic<uint64_t> generation_{0};
};

}  // namespace grove
