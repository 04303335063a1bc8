// File descriptors: ownership and close-on-exec.
//
// Every descriptor Grove opens is close-on-exec, so that a child (git, a step's command) never
// holds one of ours: an inherited listening socket would keep the port busy after the process
// that owns it died, an inherited pipe end would keep a reader waiting for an EOF. Descriptors
// that a library opens without the flag are covered on the other side: every spawn also closes
// whatever is above stderr in the child (see master/bounded_child.h, worker/child_process.cc).
#pragma once

#include <utility>

namespace grove {

// Owns one file descriptor; closes it when destroyed.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Sets FD_CLOEXEC on |fd|, for descriptors made by code that cannot ask for it at creation
// (Asio's connect, libcurl). False (errno set) if |fd| is not open.
bool SetCloexec(int fd);

// True if |fd| is open and close-on-exec.
bool IsCloexec(int fd);

}  // namespace grove
