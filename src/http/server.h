// HttpServer: the master's HTTP/1.1 listener (Boost.Beast). It parses requests, hands them to
// the Router and writes the answers; WebSocket upgrades on registered paths are handed over
// whole to their owner (the embedded broker's worker endpoint).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/router.h"

namespace boost::asio {
class io_context;
}

namespace grove::http {

struct Upgrade;  // the socket, the upgrade request and its connection slot; http/upgrade.h
using UpgradeHandler = std::function<void(std::unique_ptr<Upgrade>)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8010";  // host:port; port 0 picks a free one
  size_t max_body_bytes = 16 * 1024 * 1024;
  // Open connections (HTTP, live-update streams, workers' WebSockets) at most; further ones
  // wait in the kernel's backlog. Also capped below the open-file limit (see Start()).
  size_t max_connections = 1000;
  // A connection must send a complete request header within this time of opening or of the
  // previous answer (keep-alive), or it is closed: idle and slow-header clients cannot hold
  // the connection slots.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(15)};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Router& router, ServerOptions opts);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void AddUpgrade(const std::string& path, UpgradeHandler handler);
  // Binds and starts accepting. The connection cap becomes min(max_connections, open-file
  // limit less a reserve for the store, git and files), logged when the limit lowers it.
  Status Start();
  int port() const;
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Splits "host:port" ("[::1]:80" too). Invalid → Status::Invalid naming the text.
Status ParseHostPort(const std::string& text, std::string* host, int* port);

}  // namespace grove::http
