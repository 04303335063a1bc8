#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "worker/coalescing_stream.h"
#include "worker/link_transport.h"

#ifndef _WIN32
#include "core/fd_util.h"
#endif

namespace grove {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;

Status ParseMasterUrl(const std::string& url, MasterAddress* out) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    out->tls = false;
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    out->tls = true;
    rest = url.substr(8);
  } else {
    return Status::Invalid("invalid master URL '" + url +
                           "' (expected http://HOST:PORT or https://HOST:PORT)");
  }
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  size_t colon = rest.rfind(':');
  if (rest.empty() || colon == 0) return Status::Invalid("invalid master URL '" + url + "'");
  out->host = colon == std::string::npos ? rest : rest.substr(0, colon);
  out->port = colon == std::string::npos ? (out->tls ? "443" : "80") : rest.substr(colon + 1);
  return Status::Ok();
}

namespace {

class BeastTransport : public LinkTransport {
 public:
  BeastTransport(asio::io_context& io, MasterAddress addr)
      : io_(io), addr_(std::move(addr)), resolver_(io), stream_(io.get_executor()) {}

  void Connect(Done done) override {
    resolver_.async_resolve(
        addr_.host, addr_.port,
        [this, done](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return done("cannot resolve " + addr_.host + ": " + ec.message());
          beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
          beast::get_lowest_layer(stream_).async_connect(
              results, [this, done](beast::error_code ec, const tcp::endpoint&) {
                if (ec)
                  return done("cannot connect to " + addr_.host + ":" + addr_.port + ": " +
                              ec.message());
                beast::get_lowest_layer(stream_).expires_never();
                auto& socket = beast::get_lowest_layer(stream_).socket();
                socket.set_option(tcp::no_delay(true));
#ifndef _WIN32
                // Asio's connect opens without SOCK_CLOEXEC; steps' spawns close what is above
                // stderr anyway, this covers any other exec. (On Windows a step's process
                // inherits only its own pipes: child_process_win.cc's handle list.)
                SetCloexec(socket.native_handle());
#endif
                ws::stream_base::timeout t{};
                t.handshake_timeout = std::chrono::seconds(10);
                t.idle_timeout = std::chrono::seconds(20);
                t.keep_alive_pings = true;
                stream_.set_option(t);
                stream_.read_message_max(64 << 20);
                stream_.async_handshake(
                    addr_.host + ":" + addr_.port, "/api/v1/worker", [done](beast::error_code ec) {
                      if (ec) return done("WebSocket handshake failed: " + ec.message());
                      done("");
                    });
              });
        });
  }

  void Read(Received done) override {
    stream_.async_read(in_, [this, done](beast::error_code ec, size_t) {
      if (ec) return done("connection to master lost: " + ec.message(), "");
      std::string text = beast::buffers_to_string(in_.data());
      in_.consume(in_.size());
      done("", std::move(text));
    });
  }

  void Write(const std::string& data, bool binary, Done done) override {
    stream_.binary(binary);
    stream_.async_write(asio::buffer(data), [done](beast::error_code ec, size_t) {
      done(ec ? "write to master failed: " + ec.message() : "");
    });
  }

  void Close() override {
    beast::error_code ec;
    resolver_.cancel();
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  asio::io_context& io_;
  MasterAddress addr_;
  tcp::resolver resolver_;
  // Writes of consecutive handlers (a job's events) go out in one send: coalescing_stream.h.
  ws::stream<CoalescingStream> stream_;
  beast::flat_buffer in_;
};

}  // namespace

std::unique_ptr<LinkTransport> MakeBeastTransport(asio::io_context& io, const MasterAddress& addr) {
  return std::make_unique<BeastTransport>(io, addr);
}

}  // namespace grove
