#include "cluster/live_events.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/log.h"
#include "master/event_hub.h"
#include "store/pg_notify.h"

namespace grove {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
// Events queued while the connection is down beyond this are replaced by one resync.
constexpr size_t kMaxQueued = 10000;
// How long events wait for others before they are sent: during a burst every transaction wakes
// the sender, and each notification costs the server a statement; gathered, a burst's events go
// in a few notifications (a UI elsewhere sees them at most this much later).
constexpr std::chrono::milliseconds kGather{10};

constexpr const char* kStopBuild = "stop-build";

Json Resync() {
  return Json{{"type", "resync"}};
}

}  // namespace

LiveEvents::LiveEvents(Options opts, EventHub& hub)
    : opts_(std::move(opts)), hub_(hub), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

LiveEvents::~LiveEvents() {
  Stop();
}

std::vector<std::string> LiveEvents::Encode(const std::string& from,
                                            const std::vector<Json>& events, size_t limit) {
  std::vector<std::string> out;
  const std::string head =
      Json{{"from", from}}.dump(-1, ' ', false, Json::error_handler_t::replace);
  const std::string prefix = head.substr(0, head.size() - 1) + ",\"events\":[";
  const std::string resync = Resync().dump();
  if (prefix.size() + resync.size() + 2 > limit) return out;  // a name longer than a payload
  std::string items;
  for (const Json& event : events) {
    std::string one = event.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (prefix.size() + one.size() + 2 > limit) one = resync;  // the peers re-read everything
    if (!items.empty() && prefix.size() + items.size() + 1 + one.size() + 2 > limit) {
      out.push_back(prefix + items + "]}");
      items.clear();
    }
    if (!items.empty()) items += ',';
    items += one;
  }
  if (!items.empty()) out.push_back(prefix + items + "]}");
  return out;
}

bool LiveEvents::Decode(const std::string& payload, std::string* from, std::vector<Json>* events) {
  Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("from") || !j["from"].is_string() || !j.contains("events") ||
      !j["events"].is_array())
    return false;
  std::vector<Json> out;
  for (Json& event : j["events"]) {
    if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) return false;
    event["from"] = j["from"];
    out.push_back(std::move(event));
  }
  *from = j["from"].get<std::string>();
  *events = std::move(out);
  return true;
}

void LiveEvents::Start() {
  if (!wake_) {
    spdlog::error("live events: cannot create an eventfd; other masters' updates are not shown");
    return;
  }
  Connect();
  thread_ = std::thread([this] { Run(); });
}

void LiveEvents::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  conn_.reset();
}

void LiveEvents::Send(const Json& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= kMaxQueued) {
      queue_.clear();
      queue_.push_back(Resync());
    }
    queue_.push_back(event);
  }
  Wake();
}

void LiveEvents::SendStopBuild(int64_t build, const std::string& to) {
  Send(Json{{"type", kStopBuild}, {"build", build}, {"to", to}});
}

int64_t LiveEvents::StopBuildFor(const Json& event, const std::string& self) {
  if (!event.is_object() || event.value("type", Json()) != kStopBuild) return 0;
  const Json build = event.value("build", Json());
  const Json to = event.value("to", Json());
  if (!to.is_string() || to.get<std::string>() != self) return 0;
  if (build.is_number_unsigned()) {
    const uint64_t id = build.get<uint64_t>();
    return id > 0 && id <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(id) : 0;
  }
  if (!build.is_number_integer()) return 0;
  const int64_t id = build.get<int64_t>();
  return id > 0 ? id : 0;
}

uint64_t LiveEvents::reconnects() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reconnects_;
}

void LiveEvents::Wake() {
  const uint64_t one = 1;
  if (wake_) (void)!write(wake_.get(), &one, sizeof one);
}

bool LiveEvents::Connect() {
  Status st =
      sql::PgNotifyConnection::Open(opts_.store_url, opts_.store_password, kChannel, &conn_);
  if (!st.ok()) {
    conn_.reset();
    if (!missed_) spdlog::warn("live events: {}; retrying", st.message());
    missed_ = true;
    return false;
  }
  if (missed_) {
    // What the other masters sent meanwhile is gone, and so is what this one queued: every page
    // here and there re-reads what it shows.
    spdlog::info("live events: listening again on the store");
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++reconnects_;
      queue_.clear();
      queue_.push_back(Resync());
    }
    hub_.PublishLocal(Resync());
    missed_ = false;
  }
  return true;
}

Status LiveEvents::SendQueued() {
  std::vector<Json> outgoing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    outgoing.swap(queue_);
  }
  for (const std::string& payload :
       Encode(opts_.name, outgoing, sql::PgNotifyConnection::kMaxPayload)) {
    Status st = conn_->Notify(payload);
    if (st.code() == Status::Code::kUnavailable) return st;
    if (!st.ok()) spdlog::warn("live events: {}", st.message());  // this payload only
  }
  return Status::Ok();
}

void LiveEvents::Run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (;;) {
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
    }
    if (stopping) {
      // The master's last changes (the core loop has stopped before) still reach the others.
      if (conn_) (void)SendQueued();
      return;
    }
    if (!conn_) {
      if (!Connect()) {
        pollfd wake{wake_.get(), POLLIN, 0};
        (void)poll(&wake, 1, static_cast<int>(backoff.count()));
        uint64_t drained = 0;
        (void)!read(wake_.get(), &drained, sizeof drained);
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = kFirstBackoff;
    }
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {conn_->socket(), POLLIN, 0}};
    (void)poll(fds, 2, 5000);
    if (fds[0].revents & POLLIN) {
      uint64_t drained = 0;
      (void)!read(wake_.get(), &drained, sizeof drained);
      std::this_thread::sleep_for(kGather);
    }
    Status st = SendQueued();
    // Also after a Notify: notifications that arrived during it are already read off the socket.
    std::vector<sql::PgNotifyConnection::Notification> incoming;
    if (st.ok()) st = conn_->Drain(&incoming);
    for (const auto& n : incoming) {
      if (n.from_self) continue;  // already published here
      std::string from;
      std::vector<Json> events;
      if (!LiveEvents::Decode(n.payload, &from, &events)) {
        spdlog::warn("live events: ignored a notification on {} that is not a master's events",
                     kChannel);
        continue;
      }
      for (const Json& event : events) {
        if (event["type"] != kStopBuild) {
          hub_.PublishLocal(event);
          continue;
        }
        // Not for the pages: only the master named acts on it.
        if (int64_t build = StopBuildFor(event, opts_.name); build > 0 && on_stop_)
          on_stop_(build, from);
      }
    }
    if (!st.ok()) {
      spdlog::warn("live events: {}; reconnecting", st.message());
      conn_.reset();
      missed_ = true;
    }
  }
}

}  // namespace grove
