#include "http/server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <mutex>
#include <system_error>

#include "core/log.h"
#include "core/log_limiter.h"
#include "http/beast_request.h"
#include "http/encoding.h"
#include "http/upgrade.h"

namespace grove::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  auto bad = [&] {
    return Status::Invalid("invalid listen address '" + text + "' (expected host:port)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return bad();
  std::string h = text.substr(0, colon);
  if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return bad();
    p = p * 10 + (c - '0');
    if (p > 65535) return bad();
  }
  *host = h;
  *port = p;
  return Status::Ok();
}

namespace {
// Out of descriptors, accepting is retried after this pause, doubled up to the maximum while
// the shortage lasts: the pending connection stays in the kernel's backlog meanwhile.
constexpr std::chrono::milliseconds kAcceptBackoffMin{100};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};
// At the connection cap, how often to look whether a slot came free.
constexpr std::chrono::milliseconds kCapRecheck{100};
// Descriptors kept for everything but connections: the store, git, artifact files, logs.
constexpr rlim_t kMinFdReserve = 32;
// Time to receive a request body once its header is in.
constexpr std::chrono::seconds kBodyTimeout{120};
}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, const Router& r, ServerOptions o)
      : io(io), router(r), opts(std::move(o)), acceptor(io), retry_timer(io) {}
  asio::io_context& io;
  const Router& router;
  ServerOptions opts;
  tcp::acceptor acceptor;
  tcp protocol = tcp::v4();  // of the listening socket, for the accepted ones
  std::map<std::string, UpgradeHandler> upgrades;
  bool stopped = false;

  // The connection cap (io thread). |open| is atomic: a connection can end on another thread
  // (its last reference may be a handler's answer callback).
  std::atomic<size_t> open{0};
  size_t cap = 0;
  bool at_cap = false;
  asio::steady_timer retry_timer;
  std::chrono::milliseconds backoff{0};
  LogLimiter accept_log{std::chrono::seconds(10)};
  LogLimiter cap_log{std::chrono::seconds(10)};

  // Counts one connection until the returned object is destroyed.
  std::shared_ptr<void> TakeSlot();
  void Accept();
  void AcceptPending();
  void RetryAfter(std::chrono::milliseconds delay);
};

namespace {
struct ConnectionSlot {
  explicit ConnectionSlot(std::shared_ptr<HttpServer::Impl> s) : server(std::move(s)) {
    ++server->open;
  }
  ~ConnectionSlot() { --server->open; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  std::shared_ptr<HttpServer::Impl> server;
};
}  // namespace

std::shared_ptr<void> HttpServer::Impl::TakeSlot() {
  return std::make_shared<ConnectionSlot>(shared_from_this());
}

namespace {

// A streaming answer's connection: bytes queued from any thread go out in order on the
// connection's thread; whatever the client sends is read and ignored so that its hang-up is seen.
class SocketSink : public StreamSink, public std::enable_shared_from_this<SocketSink> {
 public:
  static constexpr size_t kMaxPending = 1 << 20;

  SocketSink(tcp::socket socket, asio::io_context& io, std::shared_ptr<void> slot)
      : socket_(std::move(socket)), io_(io), slot_(std::move(slot)) {}

  void Begin(std::string head) {
    Write(std::move(head));
    WatchForHangup();
  }

  bool Write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (pending_ + bytes.size() > kMaxPending) {
      closed_ = true;
      asio::post(io_, [self = shared_from_this()] { self->Shut(); });
      return false;
    }
    pending_ += bytes.size();
    queue_ += bytes;
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [self = shared_from_this()] { self->Flush(); });
    }
    return true;
  }

  bool closed() const override { return closed_; }

  void Close() override {
    closed_ = true;
    asio::post(io_, [self = shared_from_this()] { self->Shut(); });
  }

 private:
  void Flush() {
    if (writing_) return;  // the write in flight calls Flush again when it is done
    auto batch = std::make_shared<std::string>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() || closed_) {
        flush_posted_ = false;
        return;
      }
      batch->swap(queue_);
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(*batch),
                      [self = shared_from_this(), batch](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        {
                          std::lock_guard<std::mutex> lock(self->mu_);
                          self->pending_ -= batch->size();
                        }
                        if (ec) return self->Shut();
                        self->Flush();
                      });
  }

  void WatchForHangup() {
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Shut();
                              self->WatchForHangup();
                            });
  }

  void Shut() {
    closed_ = true;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  asio::io_context& io_;
  std::shared_ptr<void> slot_;
  std::mutex mu_;
  std::string queue_;
  size_t pending_ = 0;
  bool flush_posted_ = false;
  bool writing_ = false;  // connection thread only
  std::atomic<bool> closed_{false};
  std::array<char, 512> scratch_;
};

// A Beast body made of parts (EncodedBody's): sent with gathered writes, never joined.
struct PartsBody {
  struct value_type {
    std::vector<std::string_view> parts;
  };
  static std::uint64_t size(const value_type& v) {
    std::uint64_t n = 0;
    for (std::string_view p : v.parts) n += p.size();
    return n;
  }
  class writer {
   public:
    using const_buffers_type = std::vector<asio::const_buffer>;
    template <bool isRequest, class Fields>
    writer(const bhttp::header<isRequest, Fields>&, const value_type& v) {
      buffers_.reserve(v.parts.size());
      for (std::string_view p : v.parts) buffers_.emplace_back(p.data(), p.size());
    }
    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (done_ || buffers_.empty()) return boost::none;
      done_ = true;
      return std::make_pair(buffers_, false);
    }

   private:
    const_buffers_type buffers_;
    bool done_ = false;
  };
};

// One keep-alive HTTP connection: read a request, route it, write the answer, repeat.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Impl> server, std::shared_ptr<void> slot)
      : stream_(std::move(socket)), server_(std::move(server)), slot_(std::move(slot)) {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  // The header must come within header_timeout (this is also the keep-alive idle time), the
  // body within kBodyTimeout after it.
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->opts.max_body_bytes);
    stream_.expires_after(server_->opts.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

 private:
  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) return OnRead(ec);
    stream_.expires_after(kBodyTimeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit)
      return WriteNow(Response::Error(413, "request body too large"), false);
    if (ec) return Close();
    auto& msg = parser_->get();
    if (beast::websocket::is_upgrade(msg)) {
      std::string path(msg.target().substr(0, msg.target().find('?')));
      auto it = server_->upgrades.find(path);
      if (it != server_->upgrades.end()) {
        stream_.expires_never();
        auto up = std::make_unique<Upgrade>(stream_.release_socket());
        up->request = parser_->release();
        up->remote = remote_;
        up->slot = std::move(slot_);
        it->second(std::move(up));
        return;
      }
    }
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    Request req = FromBeast(std::move(msg), remote_);
    coding_ = ChooseCoding(req.Header("accept-encoding"));
    coding_without_zstd_ = ChooseCoding(req.Header("accept-encoding"), false);

    int status = 404;
    const Handler* handler = server_->router.Match(&req, &status);
    if (!handler) {
      return WriteNow(Response::Error(status, status == 404 ? "no such resource: " + req.path
                                                            : "method not allowed: " + req.method),
                      keep_alive_);
    }
    if (std::optional<Response> denied = server_->router.Check(&req))
      return WriteNow(std::move(*denied), keep_alive_);
    // The handler may answer later and from another thread: come back to this connection's
    // thread before touching the stream.
    auto self = shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    try {
      (*handler)(req, [self, answered, coding = coding_](Response resp) {
        *answered = true;
        // Compressed here, on the handler's thread (mostly the read pool), not on the
        // network thread that serves every connection.
        Encode(&resp, coding);
        asio::post(self->server_->io, [self, resp = std::move(resp)]() mutable {
          self->WriteNow(std::move(resp), self->keep_alive_);
        });
      });
    } catch (const nlohmann::json::exception& e) {
      // Handlers check what they read from a request; should one slip, the request is refused
      // and the master goes on.
      spdlog::error("{} {}: malformed request: {}", req.method, req.path, e.what());
      if (!*answered) WriteNow(Response::Error(400, "malformed request"), keep_alive_);
    }
  }

  // Compresses |resp|'s body for |coding| when it is text and big enough; marks every answer
  // whose form depends on Accept-Encoding with Vary so that caches keep them apart.
  static void Encode(Response* resp, Coding coding) {
    if (resp->on_stream || resp->headers.count("Content-Encoding")) return;
    const size_t size = resp->encoded ? resp->encoded->size() : resp->body.size();
    if (size < kMinCompressBytes || !Compressible(resp->content_type)) return;
    resp->headers["Vary"] = "Accept-Encoding";
    if (resp->encoded || coding == Coding::kIdentity) return;  // encoded: chosen in WriteNow
    std::string packed = Compress(coding, resp->body, coding == Coding::kGzip ? 1 : 3);
    if (packed.empty() || packed.size() >= resp->body.size()) return;
    resp->body = std::move(packed);
    resp->headers["Content-Encoding"] = CodingName(coding);
  }

  void WriteNow(Response resp, bool keep_alive) {
    if (resp.on_stream) return StartStream(std::move(resp));
    if (resp.encoded) {
      // A shared body: sent from the cache's memory, part after part, which the write keeps
      // alive.
      auto shared = std::move(resp.encoded);
      auto res = std::make_shared<bhttp::response<PartsBody>>();
      const Coding sent =
          shared->Parts(shared->in_parts() && shared->zstd.empty() ? coding_without_zstd_ : coding_,
                        &res->body().parts);
      if (sent != Coding::kIdentity) resp.headers["Content-Encoding"] = CodingName(sent);
      return Send(std::move(res), resp, keep_alive, std::move(shared));
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->body() = std::move(resp.body);
    Send(std::move(res), resp, keep_alive, nullptr);
  }

  template <class Message>
  void Send(std::shared_ptr<Message> res, const Response& resp, bool keep_alive,
            std::shared_ptr<const void> hold) {
    res->version(version_);
    res->result(static_cast<unsigned>(resp.status));
    res->set(bhttp::field::server, "grove");
    res->set(bhttp::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(kBodyTimeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, hold = std::move(hold), keep_alive](
                           beast::error_code ec, size_t) {
                         if (ec || !keep_alive) return self->Close();
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // The connection leaves the request/response cycle for good: it becomes a SocketSink.
  void StartStream(Response resp) {
    std::string head = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                       std::string(bhttp::obsolete_reason(
                           bhttp::int_to_status(static_cast<unsigned>(resp.status)))) +
                       "\r\nServer: grove\r\nContent-Type: " + resp.content_type +
                       "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
    for (const auto& [k, v] : resp.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    stream_.expires_never();
    auto sink =
        std::make_shared<SocketSink>(stream_.release_socket(), server_->io, std::move(slot_));
    sink->Begin(std::move(head));
    resp.on_stream(sink);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer::Impl> server_;
  std::shared_ptr<void> slot_;  // handed on with the socket (upgrade, stream)
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  Coding coding_ = Coding::kIdentity;               // what the current request's client accepts
  Coding coding_without_zstd_ = Coding::kIdentity;  // the same for a body without zstd
};

}  // namespace

// Accepting is done by hand (wait for readability, then accept4) rather than with
// async_accept: accept4 makes the socket close-on-exec atomically (Asio's accept does not, and
// a git child would inherit it), and an EMFILE must pause the loop, not retry it at once.
void HttpServer::Impl::Accept() {
  if (stopped) return;
  acceptor.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](beast::error_code ec) {
    if (self->stopped) return;
    if (ec) {
      uint64_t held = 0;
      if (self->accept_log.Allow(&held))
        spdlog::warn("waiting for connections failed: {} ({} more suppressed)", ec.message(), held);
      return self->RetryAfter(kAcceptBackoffMax);
    }
    self->AcceptPending();
  });
}

// Accepts every pending connection (the reactor is edge-triggered: the next wait only
// completes for a new arrival), unless the cap is reached or descriptors run out.
void HttpServer::Impl::AcceptPending() {
  for (;;) {
    if (stopped) return;
    if (open.load() >= cap) {
      if (!at_cap) {
        at_cap = true;
        uint64_t held = 0;
        if (cap_log.Allow(&held))
          spdlog::warn(
              "{} connections open, the most allowed: new ones wait until one closes ({} more "
              "suppressed)",
              cap, held);
      }
      return RetryAfter(kCapRecheck);
    }
    at_cap = false;
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        backoff = std::chrono::milliseconds(0);
        return Accept();
      }
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      // EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: accepting again now would fail again.
      backoff = backoff.count() == 0 ? kAcceptBackoffMin : std::min(backoff * 2, kAcceptBackoffMax);
      uint64_t held = 0;
      if (accept_log.Allow(&held))
        spdlog::warn("accept failed: {}; pausing accepts for {} ms ({} more suppressed)",
                     std::system_category().message(err), backoff.count(), held);
      return RetryAfter(backoff);
    }
    backoff = std::chrono::milliseconds(0);
    beast::error_code ec;
    tcp::socket socket(io);
    socket.assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(std::move(socket), shared_from_this(), TakeSlot())->Read();
  }
}

void HttpServer::Impl::RetryAfter(std::chrono::milliseconds delay) {
  retry_timer.expires_after(delay);
  retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped) return;
    self->AcceptPending();
  });
}

HttpServer::HttpServer(asio::io_context& io, const Router& router, ServerOptions opts)
    : impl_(std::make_shared<Impl>(io, router, std::move(opts))) {}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::AddUpgrade(const std::string& path, UpgradeHandler handler) {
  impl_->upgrades[path] = std::move(handler);
}

Status HttpServer::Start() {
  std::string host;
  int port = 0;
  GROVE_RETURN_IF_ERROR(ParseHostPort(impl_->opts.listen, &host, &port));
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec)
    return Status::Invalid("invalid listen address '" + impl_->opts.listen + "': " + ec.message());
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  // Opened close-on-exec from the start: a child holding the listening socket would keep the
  // port busy after this process dies (Asio's open() does not ask for SOCK_CLOEXEC).
  int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ep.protocol().protocol());
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
  } else {
    impl_->protocol = ep.protocol();
    impl_->acceptor.assign(ep.protocol(), fd, ec);
    if (ec) ::close(fd);
  }
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("cannot listen on " + impl_->opts.listen + ": " + ec.message());
  impl_->cap = std::max<size_t>(impl_->opts.max_connections, 1);
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    rlim_t reserve = std::max(kMinFdReserve, lim.rlim_cur / 8);
    size_t fit = lim.rlim_cur > 2 * reserve ? lim.rlim_cur - reserve : lim.rlim_cur / 2;
    if (fit < impl_->cap) {
      spdlog::info(
          "at most {} connections at a time (web.max_connections {}; the open-file limit is "
          "{})",
          fit, impl_->opts.max_connections, lim.rlim_cur);
      impl_->cap = fit;
    }
  }
  impl_->AcceptPending();
  return Status::Ok();
}

int HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->retry_timer.cancel();
  impl_->acceptor.close(ec);
}

}  // namespace grove::http
