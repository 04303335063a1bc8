#include "worker/master_link.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <random>
#include <set>

#include "core/json_fields.h"
#include "core/log.h"
#include "core/log_frame.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;

struct MasterLink::Impl : std::enable_shared_from_this<MasterLink::Impl> {
  struct Entry {
    int64_t id;
    std::shared_ptr<const std::string> text;
    bool binary;  // |text| is a log frame (core/log_frame.h), not JSON
    // What it counts against the congestion limit: its size, or a frame's uncompressed size.
    // Counting compressed bytes would let a compressible log put gigabytes in flight, and the
    // master's batches (one store transaction each) grow with it: PostgreSQL, which updates
    // the step's row once per chunk, slowed down threefold.
    size_t weight;
    bool finishes_job;
    int64_t request;
    int attempt;
  };

  Impl(asio::io_context& io, LinkOptions o, LinkHandler& h)
      : io(io), opts(std::move(o)), handler(h), retry_timer(io) {
    if (opts.master_urls.empty()) opts.master_urls.push_back(opts.master_url);
    opts.master_url = opts.master_urls.front();
  }

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
  // The master takes binary log frames (its welcome's "v" is 2 or more). Assumed until a
  // welcome says otherwise; frames made for a master that turns out older are turned back into
  // JSON before they are sent (ToJsonEntry).
  bool master_frames = true;
  // The master takes merged events (welcome "v" >= kMergedEventsVersion). Unlike frames, a
  // merged event cannot be split again for an older master, so a worker merges only once the
  // current connection's welcome said so (jobs come from the master after it anyway).
  bool master_merges = false;
  std::chrono::milliseconds backoff{500};
  size_t url_index = 0;  // into opts.master_urls; opts.master_url is that one
  std::mt19937 rng{std::random_device{}()};

  std::deque<Entry> outbox;  // unacknowledged events, ids contiguous
  size_t outbox_bytes = 0;
  int64_t next_id = 1;
  int64_t next_to_send = 1;
  uint64_t send_generation = 0;  // changes when a resend moves next_to_send back
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
    Json hello = {{"type", "hello"},       {"v", kLinkProtocolVersion},    {"name", opts.name},
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
    Json msg = ParseUntrusted(text);
    // Every field is checked before use: a malformed message is logged and ignored.
    JsonFields f(msg, "message from master");
    std::string type;
    f.Str("type", &type, Need::kRequired);
    if (type == "welcome") {
      int v = 1;
      f.Int("v", &v);
      master_frames = v >= 2;
      master_merges = v >= kMergedEventsVersion;
      welcomed = true;
      retired.clear();
      backoff = std::chrono::milliseconds(500);
      next_to_send = outbox.empty() ? next_id : outbox.front().id;
      spdlog::info("connected to master {} ({} events to send)", opts.master_url, outbox.size());
      Write();
    } else if (type == "refused") {
      std::string error = "refused";
      f.Str("error", &error);
      stopped = true;
      handler.OnRefused(error);
    } else if (type == "ack") {
      int64_t upto = 0;
      if (f.Int("upto", &upto, 0, INT64_MAX, Need::kRequired).ok()) Ack(upto);
    } else if (type == "resend") {
      int64_t from = 0;
      if (f.Int("from", &from, 0, INT64_MAX, Need::kRequired).ok()) Resend(from);
    } else if (type == "job") {
      // Checked, then handed over in place: a job is the largest message (steps, properties,
      // secrets), and a copy of its tree cost an allocation per node.
      if (f.CheckObject("job", Need::kRequired).ok()) handler.OnJob(msg["job"]);
    } else if (type == "cancel") {
      int64_t request = 0;
      int attempt = 0;
      f.Int("request", &request, 0, INT64_MAX, Need::kRequired)
          .Int("attempt", &attempt, 0, INT32_MAX, Need::kRequired);
      if (f.ok()) handler.OnCancel(request, attempt);
    } else if (type == "rejected") {
      // The master ignored one of our events (a bug of this worker, docs/protocol.md).
      std::string error;
      int64_t id = -1;
      f.Str("error", &error).Int("id", &id);
      spdlog::error("the master rejected event {}: {}", id, error);
    } else if (f.ok()) {
      spdlog::warn("unknown message '{}' from master ignored", type);
    }
    if (!f.ok()) spdlog::warn("{}; ignored", f.status().message());
  }

  void Ack(int64_t upto) {
    while (!outbox.empty() && outbox.front().id <= upto) {
      const Entry& e = outbox.front();
      if (e.finishes_job) finished_unacked.erase({e.request, e.attempt});
      outbox_bytes -= e.weight;
      outbox.pop_front();
    }
    // A resend may have gone back to events the master had already (an ack crossed it).
    if (!outbox.empty()) next_to_send = std::max(next_to_send, outbox.front().id);
    if (outbox.empty()) next_to_send = next_id;
    if (was_congested && outbox_bytes < opts.congestion_bytes / 4) {
      was_congested = false;
      handler.OnDrained();
    }
  }

  // The master did not store the events from |from| on (docs/protocol.md): send them again,
  // in order, and what follows them.
  void Resend(int64_t from) {
    if (!welcomed) return;  // the welcome starts from the first unacknowledged event anyway
    const int64_t first = outbox.empty() ? next_id : outbox.front().id;
    const int64_t to = std::clamp(from, first, next_id);
    if (to >= next_to_send) return;  // not sent yet: nothing to go back for
    spdlog::warn("master asked to resend events from {}; sending {} again", from,
                 next_to_send - to);
    next_to_send = to;
    ++send_generation;  // the write under way, if any, does not advance next_to_send
    Write();
  }

  void Write() {
    if (writing || !stream) return;
    // Shared with the write: after a resend went back, an ack may drop the entry mid-write.
    std::shared_ptr<const std::string> text;
    bool binary = false;
    if (hello_pending) {
      text = std::make_shared<const std::string>(hello_text);
    } else if (welcomed && !outbox.empty() && next_to_send < next_id) {
      Entry& e = outbox[static_cast<size_t>(next_to_send - outbox.front().id)];
      if (e.binary && !master_frames) ToJsonEntry(e);
      text = e.text;
      binary = e.binary;
    }
    if (!text) return;
    writing = true;
    // The transport needs |text| until |done|: the callback holds it.
    stream->Write(*text, binary,
                  [self = shared_from_this(), s = stream.get(), was_hello = hello_pending,
                   gen = send_generation, text](const std::string& error) {
                    if (s != self->stream.get()) return;
                    self->writing = false;
                    if (!error.empty()) return self->Retry(error);
                    if (was_hello)
                      self->hello_pending = false;
                    else if (gen == self->send_generation)
                      ++self->next_to_send;
                    self->Write();
                  });
  }

  // A master older than the frames: the entry's event goes as JSON, as version 1 had it.
  void ToJsonEntry(Entry& e) {
    std::string json;
    if (Status st = LogFrameAsJsonText(*e.text, &json); !st.ok()) {
      // Cannot happen (the frame is this worker's own); the master then finds the chunk
      // missing and ends the build as an exception rather than passing with a hole.
      spdlog::error("event {}: cannot turn a log frame back into JSON: {}", e.id, st.message());
      json = Json{{"type", event::kHeartbeat}, {"id", e.id}}.dump();
    }
    outbox_bytes -= e.weight;
    e.text = std::make_shared<const std::string>(std::move(json));
    e.binary = false;
    e.weight = e.text->size();
    outbox_bytes += e.weight;
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
    if (opts.master_urls.size() > 1) {
      // The next master: the events not acknowledged go to it (it adopts the running jobs).
      url_index = (url_index + 1) % opts.master_urls.size();
      opts.master_url = opts.master_urls[url_index];
    }
    std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count() / 4));
    auto delay = backoff + std::chrono::milliseconds(jitter(rng));
    if (opts.master_urls.size() > 1)
      spdlog::warn("{}; trying master {} in {} ms", why, opts.master_url, delay.count());
    else
      spdlog::warn("{}; retrying in {} ms", why, delay.count());
    backoff = std::min(backoff * 2, std::chrono::milliseconds(15000));
    retry_timer.expires_after(delay);
    retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Connect();
    });
  }

  void Emit(Json ev) {
    ev["id"] = next_id;
    Entry e{next_id, nullptr, false, 0, false, 0, 0};
    // A log chunk goes compressed, in a binary frame: no JSON escaping here, no parsing on the
    // master, and the master stores the compressed bytes as they are.
    const std::string type = StringOr(ev, "type");
    if (master_frames && type == event::kLog) {
      std::string frame;
      if (EncodeLogEvent(ev, &frame).ok()) {
        e.text = std::make_shared<const std::string>(std::move(frame));
        e.binary = true;
        if (auto d = ev.find("data"); d != ev.end() && d->is_string())
          e.weight = d->get_ref<const std::string&>().size();
      }
    }
    if (!e.text)
      e.text = std::make_shared<const std::string>(
          ev.dump(-1, ' ', false, Json::error_handler_t::replace));
    ++next_id;
    if (type == event::kJobFinished) {
      e.finishes_job = true;
      e.request = IntOr(ev, "request", 0);
      e.attempt = static_cast<int>(IntOr(ev, "attempt", 0));
      finished_unacked.insert({e.request, e.attempt});
    }
    e.weight = std::max(e.weight, e.text->size());
    outbox_bytes += e.weight;
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
bool MasterLink::MergesEvents() const {
  return impl_->welcomed && impl_->master_merges;
}
bool MasterLink::Drained() const {
  return impl_->outbox.empty();
}
std::string MasterLink::CurrentUrl() const {
  return impl_->opts.master_url;
}

}  // namespace grove
