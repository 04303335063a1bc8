// AmqpPublisher: a thread that owns one publishing connection and sends what other threads
// queue, as persistent messages with publisher confirms. Confirms are pipelined: new messages
// go out while earlier ones await theirs, within a window (kWindowPublishes wire messages,
// kWindowMessages queued ones, kWindowMerged wire messages of mergeable ones); what piles up
// meanwhile is coalesced (merge_key). Each
// message's on_confirmed runs in publish order once it and every message before it are
// confirmed. On a nack or a broken connection (broker down or restarting, network break) every
// unconfirmed message is published again, in order, on a new connection after a backoff
// (RetryDelay), for as long as it takes: delivery is at least once, and consumers de-duplicate.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/amqp_connection.h"
#include "broker/amqp_wait.h"
#include "core/json_fields.h"

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
  // Caps of one merged array (counted by the first message of a run): messages (0: none) and
  // bytes (0: 1 MiB).
  size_t merge_max_count = 0;
  size_t merge_max_bytes = 0;
  // When |body| is empty: the message as JSON, serialized on the publisher thread, so that a
  // caller on a busy thread (the master's core loop publishing jobs) does not pay for it.
  Json json;
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
  // Queues |msgs| in order at once: the thread takes them together, so a run of mergeable ones
  // travels as one message (one at a time, the thread could wake for the first alone).
  void Publish(std::vector<Outgoing> msgs);
  // Stops after what is queued was confirmed, or after |grace_ms|.
  void Stop(int grace_ms = 3000);
  size_t pending() const;

 private:
  struct Sent {    // one wire message: the next |count| messages of unconfirmed_
    uint64_t seq;  // its publisher-confirm sequence number on the connection
    size_t count;
    bool merged;  // it carries mergeable messages
  };
  void Run();
  // Publishes |batch| (moved to unconfirmed_); false on a connection error (in *st).
  bool PublishBatch(AmqpConnection& conn, std::vector<Outgoing>& batch, Status* st);
  // Applies confirms; runs on_confirmed of what is confirmed in order. False on a nack.
  bool Settle(const std::vector<AmqpConnection::Confirm>& confirms);
  // Sleeps |ms| before the next attempt to connect, or less when Stop() is called.
  void WaitBeforeRetry(int ms);
  // Waits until Stop is called, Publish (when |for_queue|), |conn| (may be null) has something
  // to read, or |ms| passed.
  void Wait(const AmqpConnection* conn, int ms, bool for_queue);
  AmqpUrl url_;
  std::function<Status(AmqpConnection&)> setup_;
  Prepare prepare_;
  mutable std::mutex mu_;
  std::deque<Outgoing> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  // The thread sleeps in Wait and would take a new message now: Publish must wake it.
  // |waiting_merged_|: a mergeable one too (the window of merged messages has room); while it
  // is full, what is merged waits for a confirm, which wakes the thread anyway.
  bool waiting_ = false;
  bool waiting_merged_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  std::unique_ptr<Wakeup> wake_;
  // Publisher thread only.
  std::deque<Outgoing> unconfirmed_;  // published, in order, awaiting confirms
  std::deque<Sent> sent_;
  size_t merged_in_flight_ = 0;  // of sent_, those that carry mergeable messages
  // Whether the window has room for |m| now.
  bool CanTake(const Outgoing& m) const;
  uint64_t acked_upto_ = 0;                            // every seq up to it is confirmed
  std::set<uint64_t> acked_singles_;                   // confirmed one by one beyond acked_upto_
  std::chrono::steady_clock::time_point oldest_sent_;  // of sent_.front()
  std::thread thread_;
};

}  // namespace grove::amqp
