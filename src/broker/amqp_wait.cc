#include "broker/amqp_wait.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace grove::amqp {

Wakeup::Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Wakeup::~Wakeup() {
  if (fd_ >= 0) close(fd_);
}

void Wakeup::Notify() {
  uint64_t one = 1;
  // A full counter (never in practice) still leaves the fd readable: nothing is lost.
  (void)!write(fd_, &one, sizeof one);
}

void Wakeup::Drain() {
  uint64_t n;
  (void)!read(fd_, &n, sizeof n);
}

void WaitReadable(std::initializer_list<const AmqpConnection*> conns, Wakeup& wake,
                  int timeout_ms) {
  std::vector<pollfd> fds;
  for (const AmqpConnection* c : conns) {
    if (c->HasBuffered()) return;
    fds.push_back({c->fd(), POLLIN, 0});
  }
  fds.push_back({wake.fd(), POLLIN, 0});
  (void)poll(fds.data(), fds.size(), timeout_ms);
}

}  // namespace grove::amqp
