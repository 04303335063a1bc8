// EmbeddedBroker: workers connect to the master's own HTTP port with a WebSocket
// (/api/v1/worker); the master pushes jobs to them and reads their events.
#pragma once

#include <memory>

#include "broker/broker.h"

namespace boost::asio {
class io_context;
}

namespace grove {
namespace http {
class HttpServer;
}

class EmbeddedBroker : public Broker {
 public:
  // Registers the WebSocket endpoint on |server|. |listener| outlives the broker.
  EmbeddedBroker(boost::asio::io_context& io, http::HttpServer& server, BrokerListener& listener);
  ~EmbeddedBroker() override;

  void Send(ConnId conn, Json msg) override;
  void Close(ConnId conn, const std::string& reason) override;
  // Closes every connection (master shutdown).
  void Shutdown();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace grove
