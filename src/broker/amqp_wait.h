// Waiting on AMQP connections without sleeping through work: rabbitmq-c blocks on one
// connection at a time, so a thread that consumes from two connections and also settles what
// other threads hand it (acks after a commit, after a confirm) polls the sockets together with
// a Wakeup those threads notify.
#pragma once

#include <initializer_list>

#include "broker/amqp_connection.h"

namespace grove::amqp {

// An eventfd: Notify() from any thread makes the next (or current) WaitReadable return.
class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  void Notify();
  int fd() const { return fd_; }
  // Clears pending notifications; called by the waiting thread before it looks for work.
  void Drain();

 private:
  int fd_;
};

// Returns when one of |conns| has something to read, |wake| was notified, or |timeout_ms|
// passed (whichever first). Returns at once when a connection already has buffered frames.
void WaitReadable(std::initializer_list<const AmqpConnection*> conns, Wakeup& wake, int timeout_ms);

}  // namespace grove::amqp
