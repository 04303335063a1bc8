// AmqpConnection: an RAII wrapper over one rabbitmq-c connection with one channel.
//
// rabbitmq-c is blocking and not thread-safe: an AmqpConnection belongs to ONE thread (the
// master's and worker's AMQP threads), never to a network loop; results are handed to other
// threads by posting. A connection either publishes (with publisher confirms) or consumes, so a
// confirm never has to be told apart from a delivery.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/amqp_url.h"
#include "broker/delivery_ledger.h"
#include "core/status.h"

namespace grove::amqp {

// Integer message headers (AMQP field table), e.g. Grove's x-grove-deliveries.
using Headers = std::map<std::string, int64_t>;

struct Delivery {
  uint64_t tag = 0;
  bool redelivered = false;
  Headers headers;  // the integer-valued ones; others are skipped
  std::string exchange;
  std::string routing_key;
  std::string body;
};

struct QueueOptions {
  bool durable = true;
  std::string dead_letter_exchange;  // x-dead-letter-exchange, empty for none
  std::string dead_letter_routing_key;
};

// Whether an error of AmqpConnection may heal by itself, so that retrying makes sense: the broker
// is down, restarting or unreachable (Unavailable). The other errors are configuration errors
// that only a person can fix: a TLS file that cannot be read or used (IoError, Invalid), a
// broker certificate the CA does not vouch for, a user, password, vhost or permission the
// broker refuses (Unauthorized), a queue declared with other arguments (Conflict).
inline bool IsTransient(const Status& st) {
  return st.code() == Status::Code::kUnavailable;
}

class AmqpConnection {
 public:
  // Connects, logs in and opens channel 1. |heartbeat_s| is the AMQP heartbeat proposed to the
  // broker (0 disables); the connection must be used (Next/WaitConfirms) more often than that.
  // Errors are one line, name the broker without its password, and tell IsTransient.
  static Status Open(const AmqpUrl& url, int heartbeat_s, std::unique_ptr<AmqpConnection>* out);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  Status DeclareExchange(const std::string& name, const std::string& type, bool durable = true);
  Status DeclareQueue(const std::string& name, const QueueOptions& opts);
  Status Bind(const std::string& queue, const std::string& exchange, const std::string& key);

  // Publisher confirms (confirm.select). Then every Publish is counted and WaitConfirms waits
  // until the broker confirmed all of them: callers publish a batch, then wait once.
  Status EnableConfirms();
  // A persistent (delivery mode 2) message with content type application/json, mandatory off.
  Status Publish(const std::string& exchange, const std::string& key, const std::string& body,
                 const Headers& headers = {});
  // Waits for every outstanding confirm; an error if the broker nacked one (the caller
  // republishes the batch) or nothing came within |timeout_ms|.
  Status WaitConfirms(int timeout_ms);
  uint64_t unconfirmed() const { return published_ - confirmed_; }
  // The sequence number (delivery tag) of the last Publish on this connection: 1, 2, ...
  uint64_t published() const { return published_; }
  // A broker's basic.ack or basic.nack of published messages: |tag|, or every tag up to it
  // with |multiple|.
  struct Confirm {
    uint64_t tag = 0;
    bool multiple = false;
    bool ack = true;
  };
  // For a publisher that keeps publishing while earlier messages await their confirms: the
  // confirms that arrive within |timeout_ms| (0: those already here, without blocking), after
  // the first one without waiting more. An error means the connection is unusable.
  Status PollConfirms(int timeout_ms, std::vector<Confirm>* out);

  // basic.qos(prefetch) (skipped when prefetch is 0) then basic.consume with manual acks.
  Status Consume(const std::string& queue, int prefetch);
  // basic.cancel of every consumer started with Consume: no new deliveries (those already
  // received stay unacknowledged until acked or rejected).
  Status CancelConsumers();
  // One prefetch limit shared by every consumer of the channel (basic.qos global).
  Status SharedPrefetch(int prefetch);
  // Waits up to |timeout_ms| for a delivery; *got says whether one came. Heartbeats are
  // handled inside. An error means the connection is unusable: drop it and reconnect.
  Status Next(int timeout_ms, Delivery* out, bool* got);
  Status Ack(uint64_t tag);
  // Queues the acknowledgement of |tag| for FlushAcks, which sends what was queued as one
  // basic.ack multiple=true where that settles nothing else (DeliveryLedger), so a round that
  // settles many deliveries sends one frame and RabbitMQ handles one ack.
  void AckLater(uint64_t tag) { ledger_.AckLater(tag); }
  Status FlushAcks();
  // basic.reject: requeue=false sends the message to the queue's dead-letter exchange.
  Status Reject(uint64_t tag, bool requeue);

  // Up to |limit| messages of |queue| without removing them: they are fetched unacknowledged
  // and go back to the queue when this connection closes (so use a connection of its own).
  Status Peek(const std::string& queue, int limit, std::vector<Delivery>* out);
  // Messages ready in |queue| (passive declare), for tests and the API.
  Status QueueDepth(const std::string& queue, uint32_t* ready);

  // For one thread waiting on several connections at once (WaitReadable): the socket, and
  // whether frames already read from it wait in rabbitmq-c's buffer, where poll() cannot see
  // them.
  int fd() const;
  bool HasBuffered() const;

 private:
  struct Impl;
  explicit AmqpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint64_t published_ = 0;
  uint64_t confirmed_ = 0;
  std::vector<std::string> consumer_tags_;
  DeliveryLedger ledger_;  // deliveries of the channel not settled yet
};

}  // namespace grove::amqp
