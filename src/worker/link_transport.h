// LinkTransport: the WebSocket under the master link (master_link.h), one message at a time each
// way (text: JSON; binary: a log frame, core/log_frame.h). The link (hello, outbox, acks,
// reconnects) is the same on every platform; only this differs: Boost.Beast over TCP
// (link_transport_beast.cc: ws:// everywhere), WinHTTP's WebSocket client on Windows for wss://
// (windows/link_transport_winhttp.cc: TLS by SChannel, with the certificates Windows trusts).
// platform.h's MakeLinkTransport picks one for a master URL.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace boost::asio {
class io_context;
}

namespace grove {

// Where the master is: http://HOST[:PORT] (ws://) or https://HOST[:PORT] (wss://).
struct MasterAddress {
  bool tls = false;
  std::string host;
  std::string port;
};

// Splits the worker's --master URL. Anything else than http:// and https:// is an error.
Status ParseMasterUrl(const std::string& url, MasterAddress* out);

// Every callback runs on the io_context's thread; none runs after Close() has returned, except
// that Beast's pending operations complete (with an error) while the object lives.
class LinkTransport {
 public:
  using Done = std::function<void(const std::string& error)>;  // "" when it worked
  using Received = std::function<void(const std::string& error, std::string text)>;

  virtual ~LinkTransport() = default;
  // Connects and opens the WebSocket at /api/v1/worker.
  virtual void Connect(Done done) = 0;
  // The next text message; one read at a time.
  virtual void Read(Received done) = 0;
  // Sends |data| (which must live until |done|) as a text message, or a binary one when
  // |binary|; one write at a time.
  virtual void Write(const std::string& data, bool binary, Done done) = 0;
  virtual void Close() = 0;
};

// ws:// with Boost.Beast (any platform).
std::unique_ptr<LinkTransport> MakeBeastTransport(boost::asio::io_context& io,
                                                  const MasterAddress& addr);

}  // namespace grove
