// AmqpPublisher: a thread that owns one publishing connection and sends what other threads
// queue, as persistent messages with publisher confirms, one confirm wait per batch. A batch
// that is not confirmed (broker down or restarting, network break) is published again on a new
// connection after a backoff (RetryDelay), for as long as it takes: delivery is at least once,
// and consumers de-duplicate.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/amqp_connection.h"

namespace grove::amqp {

struct Outgoing {
  std::string exchange;
  std::string key;
  std::string body;
  std::function<void()> on_confirmed;  // called on the publisher thread; may be empty
  // Not empty: the body is a JSON value that may travel with the neighbouring messages of the
  // same exchange and merge_key as one JSON array, published with merge_key as routing key.
  std::string merge_key;
  Headers headers;  // not merged: a message with headers travels alone
  // Not empty: what must exist before this message is published (a queue for a tag set that
  // appeared after start-up, by a reconfig); handed to the publisher's |prepare| once per
  // connection. Without it RabbitMQ would drop a message that no queue is bound for.
  std::string needs;
};

class AmqpPublisher {
 public:
  using Prepare = std::function<Status(AmqpConnection&, const std::string& needs)>;
  // |setup| runs on each new connection before publishing (declare the topology); |prepare|
  // for each distinct Outgoing::needs, once per connection.
  AmqpPublisher(AmqpUrl url, std::function<Status(AmqpConnection&)> setup,
                Prepare prepare = nullptr);
  ~AmqpPublisher();
  void Start();
  void Publish(Outgoing msg);
  // Stops after what is queued was confirmed, or after |grace_ms|.
  void Stop(int grace_ms = 3000);
  size_t pending() const;

 private:
  void Run();
  // Sleeps |ms| before the next attempt to connect, or less when Stop() is called.
  void WaitBeforeRetry(int ms);
  AmqpUrl url_;
  std::function<Status(AmqpConnection&)> setup_;
  Prepare prepare_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Outgoing> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::thread thread_;
};

}  // namespace grove::amqp
