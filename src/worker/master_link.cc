#include "worker/master_link.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <random>
#include <set>

#include "core/log.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;

Status ParseMasterUrl(const std::string& url, std::string* host, std::string* port) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0)
    return Status::Invalid("invalid master URL '" + url + "' (expected http://HOST:PORT)");
  std::string rest = url.substr(prefix.size());
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  size_t colon = rest.rfind(':');
  if (rest.empty() || colon == 0) return Status::Invalid("invalid master URL '" + url + "'");
  *host = colon == std::string::npos ? rest : rest.substr(0, colon);
  *port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  return Status::Ok();
}

struct MasterLink::Impl : std::enable_shared_from_this<MasterLink::Impl> {
  struct Entry {
    int64_t id;
    std::string text;
    bool finishes_job;
    int64_t request;
    int attempt;
  };

  Impl(asio::io_context& io, LinkOptions o, LinkHandler& h)
      : io(io), opts(std::move(o)), handler(h), resolver(io), retry_timer(io) {}

  asio::io_context& io;
  LinkOptions opts;
  LinkHandler& handler;
  tcp::resolver resolver;
  asio::steady_timer retry_timer;
  std::unique_ptr<ws::stream<beast::tcp_stream>> stream;
  std::vector<std::unique_ptr<ws::stream<beast::tcp_stream>>> retired;
  beast::flat_buffer in;
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
    std::string host, port;
    Status st = ParseMasterUrl(opts.master_url, &host, &port);
    if (!st.ok()) return handler.OnRefused(st.message());
    resolver.async_resolve(
        host, port,
        [self = shared_from_this(), host, port](beast::error_code ec,
                                                tcp::resolver::results_type results) {
          if (ec) return self->Retry("cannot resolve " + host + ": " + ec.message());
          self->stream = std::make_unique<ws::stream<beast::tcp_stream>>(self->io);
          beast::get_lowest_layer(*self->stream).expires_after(std::chrono::seconds(10));
          beast::get_lowest_layer(*self->stream)
              .async_connect(
                  results, [self, host, port](beast::error_code ec, const tcp::endpoint&) {
                    if (ec)
                      return self->Retry("cannot connect to " + host + ":" + port + ": " +
                                         ec.message());
                    beast::get_lowest_layer(*self->stream).expires_never();
                    beast::get_lowest_layer(*self->stream).socket().set_option(tcp::no_delay(true));
                    ws::stream_base::timeout t{};
                    t.handshake_timeout = std::chrono::seconds(10);
                    t.idle_timeout = std::chrono::seconds(20);
                    t.keep_alive_pings = true;
                    self->stream->set_option(t);
                    self->stream->read_message_max(64 << 20);
                    self->stream->async_handshake(
                        host + ":" + port, "/api/v1/worker", [self](beast::error_code ec) {
                          if (ec) return self->Retry("WebSocket handshake failed: " + ec.message());
                          self->SendHello();
                        });
                  });
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
    stream->async_read(in,
                       [self = shared_from_this(), s = stream.get()](beast::error_code ec, size_t) {
                         if (s != self->stream.get()) return;  // a previous connection's read
                         if (ec) return self->Retry("connection to master lost: " + ec.message());
                         std::string text = beast::buffers_to_string(self->in.data());
                         self->in.consume(self->in.size());
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
    stream->text(true);
    // The entry stays in the outbox until acknowledged, so the buffer outlives the write.
    stream->async_write(asio::buffer(*text),
                        [self = shared_from_this(), s = stream.get(), was_hello = hello_pending](
                            beast::error_code ec, size_t) {
                          self->writing = false;
                          if (s != self->stream.get()) return;
                          if (ec) return self->Retry("write to master failed: " + ec.message());
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
      beast::error_code ec;
      beast::get_lowest_layer(*stream).socket().close(ec);
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
    retry_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
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
  if (impl_->stream) {
    beast::error_code ec;
    beast::get_lowest_layer(*impl_->stream).socket().close(ec);
  }
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
