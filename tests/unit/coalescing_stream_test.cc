// CoalescingStream under a real Beast WebSocket client, against a real Beast server on loopback.
#include "worker/coalescing_stream.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace grove {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;

// Message |i|: its number, then a pattern, |size| bytes in all.
std::string Message(size_t i, size_t size) {
  std::string m = std::to_string(i) + ":";
  while (m.size() < size) m += static_cast<char>('a' + (m.size() + i) % 26);
  m.resize(std::max(size, m.size()));
  return m;
}

// A WebSocket server on a thread of its own: accepts one connection, optionally waits, then
// reads messages until the connection ends.
struct Server {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<std::string> received;
  std::function<void()> before_reading;
  std::thread thread;
  bool close_at_once = false;

  void Start() {
    thread = std::thread([this] {
      tcp::socket socket(io);
      acceptor.accept(socket);
      ws::stream<tcp::socket> server(std::move(socket));
      server.read_message_max(16 << 20);
      server.accept();
      if (close_at_once) {
        beast::error_code ec;
        server.next_layer().close(ec);
        return;
      }
      if (before_reading) before_reading();
      for (;;) {
        beast::flat_buffer buf;
        beast::error_code ec;
        server.read(buf, ec);
        if (ec) return;
        received.push_back(beast::buffers_to_string(buf.data()));
      }
    });
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }
};

struct Client {
  asio::io_context io;
  ws::stream<CoalescingStream> stream{io.get_executor()};

  void Connect(unsigned short port) {
    beast::get_lowest_layer(stream).socket().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    // Asynchronous only: CoalescingStream is not a synchronous stream.
    beast::error_code result;
    stream.async_handshake("127.0.0.1", "/", [&](beast::error_code ec) { result = ec; });
    io.run();
    io.restart();
    ASSERT_FALSE(result) << result.message();
  }

  // Writes |messages| one after the other, each started from the previous one's completion
  // (as the worker's link does); returns the first error.
  beast::error_code WriteAll(const std::vector<std::string>& messages) {
    beast::error_code result;
    size_t next = 0;
    std::function<void()> write_next = [&] {
      if (next == messages.size()) return;
      stream.binary(next % 3 == 0);
      stream.async_write(asio::buffer(messages[next]), [&](beast::error_code ec, size_t) {
        if (ec) {
          result = ec;
          return;
        }
        ++next;
        write_next();
      });
    };
    write_next();
    io.run();
    io.restart();
    return result;
  }

  void Close() {
    stream.async_close(ws::close_code::normal, [](beast::error_code) {});
    io.run();
    io.restart();
  }
};

TEST(CoalescingStreamTest, BackToBackMessagesShareSends) {
  Server server;
  server.Start();
  Client client;
  client.Connect(server.port());
  std::vector<std::string> messages;
  for (size_t i = 0; i < 200; ++i) messages.push_back(Message(i, 100 + i));
  const uint64_t sends_before = client.stream.next_layer().sends();
  ASSERT_FALSE(client.WriteAll(messages));
  const uint64_t sends = client.stream.next_layer().sends() - sends_before;
  client.Close();
  server.thread.join();
  ASSERT_EQ(server.received, messages);
  // Without coalescing every message is a send of its own.
  EXPECT_LE(sends, messages.size() / 4) << sends << " sends for " << messages.size();
}

TEST(CoalescingStreamTest, LargeMessagesAndASlowReaderArriveWholeAndInOrder) {
  Server server;
  // The reader starts late: the client's writes pile up against a full socket buffer, and
  // CoalescingStream must hold completions back rather than buffer without limit.
  server.before_reading = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };
  server.Start();
  Client client;
  client.Connect(server.port());
  std::vector<std::string> messages;
  const size_t sizes[] = {10, 70 * 1024, 300 * 1024, 1, 5 * 1024 * 1024, 64 * 1024, 3};
  for (size_t i = 0; i < 40; ++i) messages.push_back(Message(i, sizes[i % std::size(sizes)]));
  ASSERT_FALSE(client.WriteAll(messages));
  client.Close();
  server.thread.join();
  ASSERT_EQ(server.received.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i)
    ASSERT_EQ(server.received[i], messages[i]) << "message " << i;
}

TEST(CoalescingStreamTest, APeerThatWentAwayFailsTheWrites) {
  Server server;
  server.close_at_once = true;
  server.Start();
  Client client;
  client.Connect(server.port());
  server.thread.join();
  std::vector<std::string> messages;
  for (size_t i = 0; i < 2000; ++i) messages.push_back(Message(i, 4096));
  // The first writes may land in the socket buffer; a later one must fail, not hang.
  EXPECT_TRUE(client.WriteAll(messages));
}

}  // namespace
}  // namespace grove
