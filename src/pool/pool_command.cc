#include "pool/pool_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace grove::pool {

namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

void Append(std::string* out, const char* data, size_t n) {
  out->append(data, n);
  if (out->size() > kMaxCommandOutput) out->erase(0, out->size() - kMaxCommandOutput);
}

}  // namespace

CommandOutcome RunCommand(const BoundedCommand& cmd, const std::atomic<bool>& cancel) {
  CommandOutcome outcome;
  const auto begin = Clock::now();
  BoundedChild child;
  outcome.status = StartBounded(cmd, &child);
  if (!outcome.status.ok()) return outcome;
  const pid_t pid = child.pid;
  // The child's own bound (`timeout`) ends it first; this one is the backstop.
  const auto deadline = begin + std::chrono::seconds(cmd.limit_s + kBoundedKillAfterS + 10);
  pollfd fds[2] = {{child.out.get(), POLLIN, 0}, {child.err.get(), POLLIN, 0}};
  int status = 0;
  bool reaped = false, cancelled = false;
  Clock::time_point reaped_at;
  char buf[4096];
  for (;;) {
    if (!reaped) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        reaped = true;
        reaped_at = Clock::now();
      }
    }
    // A worker launched in the background may hold the pipes open for its whole life: once the
    // command itself has exited, what is still buffered is read and the pipes left.
    if (reaped && (MsSince(reaped_at) > 200 || (fds[0].fd < 0 && fds[1].fd < 0))) break;
    if (!reaped && Clock::now() > deadline) {
      kill(-pid, SIGKILL);
    } else if (!reaped && !cancelled && cancel.load()) {
      cancelled = true;
      kill(-pid, SIGTERM);
    }
    int n = poll(fds, 2, 50);
    if (n < 0 && errno != EINTR) break;
    for (auto& f : fds) {
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(f.fd, buf, sizeof buf);
      if (got > 0) {
        Append(&outcome.output, buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        f.fd = -1;
      }
    }
  }
  outcome.duration_ms = MsSince(begin);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return outcome;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kBoundedTimedOutExit && child.bounded_by_timeout)
    outcome.status = Status::Unavailable("timed out after " + std::to_string(cmd.limit_s) + "s");
  else if (WIFEXITED(status))
    outcome.status = Status::IoError("exited with code " + std::to_string(WEXITSTATUS(status)));
  else if (WIFSIGNALED(status))
    outcome.status = Status::IoError("killed by signal " + std::to_string(WTERMSIG(status)));
  else
    outcome.status = Status::IoError("ended abnormally");
  return outcome;
}

CommandRunner::~CommandRunner() {
  cancel_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& job : jobs_)
    if (job->thread.joinable()) job->thread.join();
}

void CommandRunner::ReapFinished() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if ((*it)->finished) {
      (*it)->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

void CommandRunner::Run(BoundedCommand cmd, std::function<void(CommandOutcome)> done) {
  std::lock_guard<std::mutex> lock(mu_);
  ReapFinished();
  auto job = std::make_unique<Job>();
  Job* raw = job.get();
  // The thread that forks must outlive the child: the child's parent-death signal follows it.
  raw->thread = std::thread([this, raw, cmd = std::move(cmd), done = std::move(done)] {
    done(RunCommand(cmd, cancel_));
    raw->finished = true;
  });
  jobs_.push_back(std::move(job));
}

}  // namespace grove::pool
