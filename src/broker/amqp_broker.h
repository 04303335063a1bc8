// AmqpBroker: the master's side of distributed mode (docs/protocol.md, "Distributed mode").
// Jobs are published to the durable queue of the builder's tag set; workers announce
// themselves with periodic hello events; every event arrives on the master's durable events
// queue and is acknowledged to RabbitMQ only once the controller committed it (its "ack" to
// the worker's connection id). rabbitmq-c runs on two threads of this class (one publishing with
// confirms, one consuming); nothing here runs on the master's network loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"

namespace grove {

class AmqpBroker : public Broker {
 public:
  AmqpBroker(std::string url, BrokerListener& listener);
  ~AmqpBroker() override;

  // Connects once (so that a wrong URL or password fails the start with a clear error),
  // declares the topology with the job queues of |builder_tags|, starts the threads.
  Status Start(const std::vector<std::vector<std::string>>& builder_tags);
  void Stop();

  void Send(ConnId conn, Json msg) override;
  void Close(ConnId conn, const std::string& reason) override;
  bool RoutesJobs() const override { return true; }
  void PublishJob(const std::vector<std::string>& tags, Json msg) override;

  // The dead-letter queue (up to |limit| messages, oldest first; left in the queue), answered
  // from the broker's consumer thread: {"count": N, "messages": [{"exchange", "routing_key",
  // "body"}]}.
  void ListDeadLetters(int limit, std::function<void(Status, Json)> done);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace grove
