#include "broker/embedded_broker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>

#include "core/log.h"
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

// One worker's WebSocket: the hello handshake, then a read loop and a write queue.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::unique_ptr<http::Upgrade> up, std::shared_ptr<EmbeddedBroker::State> state,
            ConnId id)
      : ws_(std::move(up->socket)),
        state_(std::move(state)),
        id_(id),
        remote_(up->remote),
        request_(std::move(up->request)) {}

  void Start() {
    ws::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = std::chrono::seconds(20);  // pings every 10 s; silence for 20 s = gone
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(kMaxMessageBytes);
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
      self->OnMessage();
    });
  }

  void OnMessage() {
    std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    Json msg = Json::parse(text, nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) {
      spdlog::warn("worker connection from {}: malformed message, closing", remote_);
      return CloseWith("malformed message");
    }
    if (worker_.empty()) return OnHello(msg);
    std::vector<Json> batch;
    batch.push_back(std::move(msg));
    state_->listener.OnMessages(id_, worker_, std::move(batch));
    Read();
  }

  void OnHello(const Json& msg) {
    if (msg.value("type", "") != "hello" || !msg.contains("name") || !msg["name"].is_string()) {
      Send(Json{{"type", "refused"}, {"error", "expected a hello message"}}.dump());
      return CloseWith("expected hello");
    }
    WorkerHello hello;
    hello.name = msg.value("name", "");
    hello.secret = msg.value("secret", "");
    hello.capacity = msg.value("capacity", 0);
    hello.running = msg.value("running", Json::array());
    hello.version = msg.value("version", "");
    if (auto os = msg.find("os"); os != msg.end() && os->is_string()) hello.os = *os;
    hello.remote = remote_;
    std::string name = hello.name;
    auto self = shared_from_this();
    state_->listener.OnHello(id_, std::move(hello), [self, name](Status st) {
      asio::post(self->state_->io, [self, name, st] {
        if (!st.ok()) {
          self->Send(Json{{"type", "refused"}, {"error", st.message()}}.dump());
          return self->CloseWith("refused");
        }
        self->worker_ = name;
        self->Send(Json{{"type", "welcome"}, {"v", kProtocolVersion}}.dump());
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
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  std::string worker_;  // set once the hello is accepted
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
