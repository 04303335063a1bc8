// What a WebSocket upgrade hands over: the connection and the HTTP request that asked for it.
// Only code that speaks WebSocket includes this (it pulls in Beast).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>

namespace grove::http {

struct Upgrade {
  explicit Upgrade(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
  boost::asio::ip::tcp::socket socket;
  boost::beast::http::request<boost::beast::http::string_body> request;
  std::string remote;
  // Counts the connection against the server's cap until released: keep it as long as the
  // socket is open.
  std::shared_ptr<void> slot;
};

}  // namespace grove::http
