#include "broker/embedded_broker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>

#include "core/json_fields.h"
#include "core/log.h"
#include "core/log_frame.h"
#include "http/server.h"
#include "http/upgrade.h"

namespace grove {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;

namespace {
class WsSession;
}

struct EmbeddedBroker::State {
  State(asio::io_context& io, BrokerListener& l) : io(io), listener(l) {}
  asio::io_context& io;
  BrokerListener& listener;
  ConnId next_id = 1;
  std::map<ConnId, std::weak_ptr<WsSession>> sessions;  // touched on the io thread only
};

namespace {

constexpr size_t kMaxMessageBytes = 16 * 1024 * 1024;
// A connection that has not said hello by then is closed: unauthenticated, it must not hold a
// connection slot (or a descriptor) for long.
constexpr std::chrono::seconds kHelloTimeout{10};

// One worker's WebSocket: the hello handshake, then a read loop and a write queue.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::unique_ptr<http::Upgrade> up, std::shared_ptr<EmbeddedBroker::State> state,
            ConnId id)
      : ws_(std::move(up->socket)),
        state_(std::move(state)),
        id_(id),
        remote_(up->remote),
        request_(std::move(up->request)),
        slot_(std::move(up->slot)),
        hello_timer_(state_->io) {}

  void Start() {
    ws::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = std::chrono::seconds(20);  // pings every 10 s; silence for 20 s = gone
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(kMaxMessageBytes);
    hello_timer_.expires_after(kHelloTimeout);
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      // A first message has come (the hello, perhaps waiting for the core loop's answer): the
      // hello handling decides from here on.
      if (ec || self->closed_ || self->got_message_) return;
      spdlog::debug("worker connection from {}: no hello within {} s, closing", self->remote_,
                    kHelloTimeout.count());
      self->Closed("no hello in time");
    });
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Closed("handshake: " + ec.message());
      self->Read();
    });
  }

  void Send(std::string text) {
    if (closed_) return;
    out_.push_back(std::move(text));
    if (out_.size() == 1) WriteNext();
  }

  void CloseWith(const std::string& reason) {
    if (closed_) return;
    closing_ = true;
    ws_.async_close(
        ws::close_reason(ws::close_code::policy_error, reason),
        [self = shared_from_this()](beast::error_code) { self->Closed("closed by master"); });
  }

 private:
  void Read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Closed(ec.message());
      self->got_message_ = true;
      self->OnMessage();
    });
  }

  void OnMessage() {
    std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    if (ws_.got_binary()) return OnFrame(text);
    Json msg = ParseUntrusted(text);
    if (msg.is_discarded() || !msg.is_object()) {
      spdlog::warn("worker connection from {}: malformed message, closing", remote_);
      return CloseWith("malformed message");
    }
    if (worker_.empty()) return OnHello(msg);
    Status checked = CheckEvent(msg);
    OnEvent(std::move(msg), checked);
  }

  // A binary message: a log frame (core/log_frame.h), decoded (and its payload proved whole)
  // here on the network thread, so the core loop only stores it.
  void OnFrame(std::string_view bytes) {
    if (worker_.empty()) {
      spdlog::warn("worker connection from {}: a binary message before the hello, closing",
                   remote_);
      return CloseWith("binary message before the hello");
    }
    Json ev;
    Status st = DecodeLogFrame(bytes, &ev);
    if (!st.ok() && !ev.is_object()) {
      // Not even its id can be read: it cannot be rejected in order, as the hole it leaves
      // would stall the worker's events. The connection goes; the worker resends on reconnect.
      spdlog::warn("worker {}: {}; closing the connection", worker_, st.message());
      return CloseWith("malformed log frame");
    }
    OnEvent(std::move(ev), st);
  }

  void OnEvent(Json msg, const Status& checked) {
    std::vector<Json> batch;
    if (const Status& st = checked; !st.ok()) {
      // Ignored, never applied (docs/protocol.md): the worker is told why, and the event is
      // acknowledged in order with the others (as a heartbeat: its id and nothing else), so a
      // worker does not send it again forever.
      const int64_t id = IntOr(msg, "id", -1);
      spdlog::warn("worker {}: event {} ignored: {}", worker_, id, st.message());
      Json rejected = {{"type", "rejected"}, {"error", st.message()}};
      if (id >= 0) {
        rejected["id"] = id;
        batch.push_back(Json{{"type", event::kHeartbeat}, {"id", id}});
      }
      Send(rejected.dump(-1, ' ', false, Json::error_handler_t::replace));
    } else {
      batch.push_back(std::move(msg));
    }
    if (!batch.empty()) state_->listener.OnMessages(id_, worker_, std::move(batch));
    Read();
  }

  void OnHello(const Json& msg) {
    WorkerHello hello;
    if (Status st = ParseHello(msg, "name", &hello); !st.ok()) {
      spdlog::warn("worker connection from {} refused: {}", remote_, st.message());
      Send(Json{{"type", "refused"}, {"error", st.message()}}.dump(-1, ' ', false,
                                                                   Json::error_handler_t::replace));
      return CloseWith("malformed hello");
    }
    hello.remote = remote_;
    std::string name = hello.name;
    auto self = shared_from_this();
    state_->listener.OnHello(id_, std::move(hello), [self, name](Status st) {
      asio::post(self->state_->io, [self, name, st] {
        if (st.code() == Status::Code::kUnavailable) {
          // The master cannot store the hello now (a full disk): closed, not refused, so the
          // worker connects again rather than stopping.
          return self->CloseWith(st.message());
        }
        if (!st.ok()) {
          self->Send(Json{{"type", "refused"}, {"error", st.message()}}.dump());
          return self->CloseWith("refused");
        }
        self->worker_ = name;
        self->Send(Json{{"type", "welcome"}, {"v", kLinkProtocolVersion}}.dump());
        self->Read();
      });
    });
  }

  void WriteNext() {
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->Closed(ec.message());
                      if (self->closed_) return;
                      self->out_.pop_front();
                      if (!self->out_.empty()) self->WriteNext();
                    });
  }

  void Closed(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    state_->sessions.erase(id_);
    hello_timer_.cancel();
    if (!worker_.empty()) {
      spdlog::info("worker {} disconnected ({})", worker_, why);
      state_->listener.OnClosed(id_, worker_);
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  ws::stream<beast::tcp_stream> ws_;
  std::shared_ptr<EmbeddedBroker::State> state_;
  ConnId id_;
  std::string remote_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::shared_ptr<void> slot_;  // counts this connection against the server's cap
  asio::steady_timer hello_timer_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  std::string worker_;  // set once the hello is accepted
  bool got_message_ = false;
  bool closed_ = false;
  bool closing_ = false;
};

}  // namespace

EmbeddedBroker::EmbeddedBroker(asio::io_context& io, http::HttpServer& server,
                               BrokerListener& listener)
    : state_(std::make_shared<State>(io, listener)) {
  server.AddUpgrade("/api/v1/worker", [state = state_](std::unique_ptr<http::Upgrade> up) {
    ConnId id = state->next_id++;
    auto session = std::make_shared<WsSession>(std::move(up), state, id);
    state->sessions[id] = session;
    session->Start();
  });
}

EmbeddedBroker::~EmbeddedBroker() = default;

void EmbeddedBroker::Send(ConnId conn, Json msg) {
  asio::post(state_->io,
             [state = state_, conn,
              text = msg.dump(-1, ' ', false, Json::error_handler_t::replace)]() mutable {
               auto it = state->sessions.find(conn);
               if (it == state->sessions.end()) return;
               if (auto s = it->second.lock()) s->Send(std::move(text));
             });
}

void EmbeddedBroker::Close(ConnId conn, const std::string& reason) {
  asio::post(state_->io, [state = state_, conn, reason] {
    auto it = state->sessions.find(conn);
    if (it == state->sessions.end()) return;
    if (auto s = it->second.lock()) s->CloseWith(reason);
  });
}

void EmbeddedBroker::Shutdown() {
  asio::post(state_->io, [state = state_] {
    auto sessions = state->sessions;
    for (auto& [id, weak] : sessions)
      if (auto s = weak.lock()) s->CloseWith("master shutting down");
  });
}

}  // namespace grove
