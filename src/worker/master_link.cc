#include "worker/master_link.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <random>
#include <set>

#include "core/log.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;

struct MasterLink::Impl : std::enable_shared_from_this<MasterLink::Impl> {
  struct Entry {
    int64_t id;
    std::string text;
    bool finishes_job;
    int64_t request;
    int attempt;
  };

  Impl(asio::io_context& io, LinkOptions o, LinkHandler& h)
      : io(io), opts(std::move(o)), handler(h), retry_timer(io) {}

  asio::io_context& io;
  LinkOptions opts;
  LinkHandler& handler;
  asio::steady_timer retry_timer;
  std::unique_ptr<LinkTransport> stream;
  std::vector<std::unique_ptr<LinkTransport>> retired;
  std::string hello_text;
  bool hello_pending = false;
  bool welcomed = false;
  bool writing = false;
  bool stopped = false;
  bool was_congested = false;
  std::chrono::milliseconds backoff{500};
  std::mt19937 rng{std::random_device{}()};

  std::deque<Entry> outbox;  // unacknowledged events, ids contiguous
  size_t outbox_bytes = 0;
  int64_t next_id = 1;
  int64_t next_to_send = 1;
  std::set<std::pair<int64_t, int>> finished_unacked;  // jobs whose job.finished is not acked

  void Connect() {
    if (stopped) return;
    MasterAddress addr;
    Status st = ParseMasterUrl(opts.master_url, &addr);
    if (st.ok()) st = MakeLinkTransport(io, addr, &stream);
    if (!st.ok()) return handler.OnRefused(st.message());
    stream->Connect([self = shared_from_this(), s = stream.get()](const std::string& error) {
      if (s != self->stream.get()) return;  // a previous connection's
      if (!error.empty()) return self->Retry(error);
      self->SendHello();
    });
  }

  void SendHello() {
    Json running = handler.RunningJobs();
    for (const auto& [req, att] : finished_unacked)
      running.push_back({{"request", req}, {"attempt", att}});
    Json hello = {{"type", "hello"},       {"v", kProtocolVersion},        {"name", opts.name},
                  {"secret", opts.secret}, {"capacity", opts.capacity},    {"running", running},
                  {"os", WorkerOs()},      {"version", "grove-worker/0.1"}};
    hello_text = hello.dump();
    hello_pending = true;
    Write();
    Read();
  }

  void Read() {
    stream->Read(
        [self = shared_from_this(), s = stream.get()](const std::string& error, std::string text) {
          if (s != self->stream.get()) return;  // a previous connection's read
          if (!error.empty()) return self->Retry(error);
          self->OnMessage(text);
          if (self->stream.get() == s && !self->stopped) self->Read();
        });
  }

  void OnMessage(const std::string& text) {
    Json msg = Json::parse(text, nullptr, false);
    if (!msg.is_object()) return spdlog::warn("malformed message from master ignored");
    std::string type = msg.value("type", "");
    if (type == "welcome") {
      welcomed = true;
      retired.clear();
      backoff = std::chrono::milliseconds(500);
      next_to_send = outbox.empty() ? next_id : outbox.front().id;
      spdlog::info("connected to master {} ({} events to send)", opts.master_url, outbox.size());
      Write();
    } else if (type == "refused") {
      stopped = true;
      handler.OnRefused(msg.value("error", "refused"));
    } else if (type == "ack") {
      Ack(msg.value("upto", int64_t{0}));
    } else if (type == "job") {
      handler.OnJob(msg.value("job", Json::object()));
    } else if (type == "cancel") {
      handler.OnCancel(msg.value("request", int64_t{0}), msg.value("attempt", 0));
    } else {
      spdlog::warn("unknown message '{}' from master ignored", type);
    }
  }

  void Ack(int64_t upto) {
    while (!outbox.empty() && outbox.front().id <= upto) {
      const Entry& e = outbox.front();
      if (e.finishes_job) finished_unacked.erase({e.request, e.attempt});
      outbox_bytes -= e.text.size();
      outbox.pop_front();
    }
    if (was_congested && outbox_bytes < opts.congestion_bytes / 4) {
      was_congested = false;
      handler.OnDrained();
    }
  }

  void Write() {
    if (writing || !stream) return;
    const std::string* text = nullptr;
    if (hello_pending) {
      text = &hello_text;
    } else if (welcomed && !outbox.empty() && next_to_send < next_id) {
      text = &outbox[static_cast<size_t>(next_to_send - outbox.front().id)].text;
    }
    if (!text) return;
    writing = true;
    // The entry stays in the outbox until acknowledged, so the buffer outlives the write.
    stream->Write(*text, [self = shared_from_this(), s = stream.get(),
                          was_hello = hello_pending](const std::string& error) {
      if (s != self->stream.get()) return;
      self->writing = false;
      if (!error.empty()) return self->Retry(error);
      if (was_hello)
        self->hello_pending = false;
      else
        ++self->next_to_send;
      self->Write();
    });
  }

  void Retry(const std::string& why) {
    if (stopped) return;
    if (stream) {
      stream->Close();
      // Its pending handlers still refer to it: keep it until the next connection is up.
      retired.push_back(std::move(stream));
    }
    welcomed = false;
    hello_pending = false;
    writing = false;
    std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count() / 4));
    auto delay = backoff + std::chrono::milliseconds(jitter(rng));
    spdlog::warn("{}; retrying in {} ms", why, delay.count());
    backoff = std::min(backoff * 2, std::chrono::milliseconds(15000));
    retry_timer.expires_after(delay);
    retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Connect();
    });
  }

  void Emit(Json ev) {
    ev["id"] = next_id;
    Entry e{next_id++, ev.dump(-1, ' ', false, Json::error_handler_t::replace), false, 0, 0};
    if (ev.value("type", "") == event::kJobFinished) {
      e.finishes_job = true;
      e.request = ev.value("request", int64_t{0});
      e.attempt = ev.value("attempt", 0);
      finished_unacked.insert({e.request, e.attempt});
    }
    outbox_bytes += e.text.size();
    outbox.push_back(std::move(e));
    if (outbox_bytes > opts.congestion_bytes) was_congested = true;
    Write();
  }
};

MasterLink::MasterLink(asio::io_context& io, LinkOptions opts, LinkHandler& handler)
    : impl_(std::make_shared<Impl>(io, std::move(opts), handler)) {}

MasterLink::~MasterLink() {
  Stop();
}

void MasterLink::Start() {
  impl_->Connect();
}

void MasterLink::Stop() {
  impl_->stopped = true;
  impl_->retry_timer.cancel();
  if (impl_->stream) impl_->stream->Close();
}

void MasterLink::Emit(Json event) {
  impl_->Emit(std::move(event));
}
bool MasterLink::Congested() const {
  return impl_->outbox_bytes > impl_->opts.congestion_bytes;
}
bool MasterLink::Drained() const {
  return impl_->outbox.empty();
}

}  // namespace grove
