#include "master/event_hub.h"

#include <algorithm>

namespace grove {

void EventHub::Subscribe(std::shared_ptr<http::StreamSink> sink) {
  // The first frame tells the page the stream is live, so it can re-read its data once.
  sink->Write("retry: 2000\nevent: hello\ndata: {}\n\n");
  std::lock_guard<std::mutex> lock(mu_);
  sinks_.push_back(std::move(sink));
}

void EventHub::Observe(std::function<void(const Json&)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observers_.push_back(std::move(observer));
}

void EventHub::Publish(const Json& event) {
  if (forward_) forward_(event);
  PublishLocal(event);
}

void EventHub::PublishLocal(const Json& event) {
  // Another master's change bumps the generation too: answers cached here are stale after it.
  generation_.fetch_add(1);
  std::string frame;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& observe : observers_) observe(event);
    if (sinks_.empty()) return;
    frame = "id: " + std::to_string(next_id_++) + "\ndata: " + event.dump() + "\n\n";
  }
  Broadcast(frame);
}

void EventHub::Ping() {
  Broadcast(": ping\n\n");
}

void EventHub::Broadcast(const std::string& frame) {
  std::lock_guard<std::mutex> lock(mu_);
  sinks_.erase(
      std::remove_if(sinks_.begin(), sinks_.end(),
                     [&](const std::shared_ptr<http::StreamSink>& s) { return !s->Write(frame); }),
      sinks_.end());
}

bool EventHub::Listened() const {
  if (forward_) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return !sinks_.empty();
}

void EventHub::Resync() {
  Broadcast("event: hello\ndata: {}\n\n");
}

size_t EventHub::subscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sinks_.size();
}

}  // namespace grove
