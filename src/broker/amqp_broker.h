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

  // Tries to connect once and declare the topology with the job queues of |builder_tags|, then
  // starts the threads. An error only for what retrying cannot fix (IsTransient: a TLS file, a
  // refused login or vhost); a broker that is down or unreachable is logged and connected to
  // by the threads as soon as it answers, as after a drop: meanwhile jobs wait in memory (their
  // requests are in the store).
  Status Start(const std::vector<std::vector<std::string>>& builder_tags);
  void Stop();

  // Several masters (docs/operations.md): only the master holding the "amqp-events" lease
  // consumes the events and submissions queues, so that one master at a time applies a
  // worker's events, in order. While inactive the consumer thread holds no consumer (what it
  // had goes back to RabbitMQ for the next holder) and forgets the workers it knew. Thread-safe;
  // may be called before Start (a master starts inactive until the lease is decided).
  void SetActive(bool active);

  // The tags and capacity grove.lua gives worker |name| ({"tags": [...], "capacity": N}, or
  // null), added to its welcome: a worker started without --tags or --capacity learns them
  // there (docs/protocol.md). Called on the controller's thread; set before Start.
  void SetWorkerSettings(std::function<Json(const std::string& name)> lookup);

  void Send(ConnId conn, Json msg) override;
  void Close(ConnId conn, const std::string& reason) override;
  bool RoutesJobs() const override { return true; }
  void PublishJob(const std::vector<std::string>& tags, Json msg) override;
  void PublishJobText(const std::vector<std::string>& tags, std::string job_text,
                      bool consumer) override;

  // The dead-letter queue (up to |limit| messages, oldest first; left in the queue), answered
  // from the broker's consumer thread: {"count": N, "messages": [{"exchange", "routing_key",
  // "body"}]}.
  void ListDeadLetters(int limit, std::function<void(Status, Json)> done);
  // Reads every queue's depth on the consumer thread into the metrics (metrics::SetAmqpDepths).
  void ReadQueueDepths();
  void QueueDepths(std::vector<std::string> queues, QueueDepthsDone done) override;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace grove
