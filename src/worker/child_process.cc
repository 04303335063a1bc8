// ChildProcess on Linux: posix_spawnp into a new process group, a pidfd for the exit, one pipe
// for stdout+stderr, both driven by Asio on the io_context's thread.
//
// Lifetime: the public object is a thin handle over a shared ChildState. Every pending Asio
// handler holds a shared_ptr to the state, so the state (its buffer, descriptors and timers)
// outlives the handle until those handlers have run; the handle's destructor marks the state
// detached, kills and reaps the group, and closes everything, so the handlers that still run
// only see operation_aborted / detached and return without touching a callback.
//
// Joining exit and EOF: the exit is reported once both |reaped_| (the main process has been
// waited for) and |pipe_eof_| (the pipe has been read to its end) are true, whichever comes
// last calls MaybeFinish(), which fires on_exit.
//
// The spawn itself runs on a spawn thread (spawn_pool.h), not on the io thread, which
// posix_spawn would block until the child has exec'ed. Its outcome waits in a SpawnSlot shared
// with that thread and is taken on the io thread (OnSpawned); a Cancel or a timeout meanwhile is
// carried out once the pid is known, and a handle destroyed meanwhile waits for the spawn to end
// and kills and reaps the child itself.
#include "worker/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "core/fd_util.h"
#include "worker/program_path.h"
#include "worker/spawn_pool.h"

extern char** environ;

namespace grove {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// The read buffer starts small (most steps print little or nothing: a 64 KiB buffer, zeroed,
// cost a memset and fresh pages per spawn) and grows to its full size once a read fills it.
constexpr size_t kFirstReadBufferSize = 4 * 1024;
constexpr size_t kReadBufferSize = 64 * 1024;

// Once the main process has exited, the rest of its group is SIGKILLed, so the pipe normally
// reaches EOF at once. Only a process that left the group (setsid, setpgid) can still hold the
// write end; this is how long we keep reading for it before closing our end and reporting.
constexpr milliseconds kEofGraceAfterExit{2000};

// Exit polling, used only if pidfd_open() fails (no kernel support, or out of descriptors).
constexpr milliseconds kPollFirst{5};
constexpr milliseconds kPollMax{100};

std::string ErrnoMessage(int err) {
  return std::system_category().message(err);
}

// Moves |fd| to a number >= 3. If the worker runs with 0, 1 or 2 closed, pipe2() can hand those
// out, and the child's "open /dev/null as 0" / "dup2 onto 1 and 2" actions would then clobber
// the very descriptor they are meant to copy.
bool MoveAboveStdio(UniqueFd& fd) {
  if (fd.get() > STDERR_FILENO) return true;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

struct SpawnFileActions {
  posix_spawn_file_actions_t value;
  SpawnFileActions() { posix_spawn_file_actions_init(&value); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&value); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
};

struct SpawnAttr {
  posix_spawnattr_t value;
  SpawnAttr() { posix_spawnattr_init(&value); }
  ~SpawnAttr() { posix_spawnattr_destroy(&value); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

// The child's environment: the worker's own entries (pointers into environ, not copies) except
// those |overrides| replace, then the overrides. Built per spawn because the worker's environment
// may change (setenv) between spawns; the overrides are few (a step's env), so a linear look-up
// beats a map of the whole environment.
class ChildEnv {
 public:
  explicit ChildEnv(const std::map<std::string, std::string>& overrides) {
    if (overrides.empty()) return;  // envp() is environ itself
    added_.reserve(overrides.size());
    for (const auto& [name, value] : overrides) {
      std::string entry;
      entry.reserve(name.size() + 1 + value.size());
      entry.append(name).append(1, '=').append(value);
      added_.push_back(std::move(entry));
    }
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const auto& [override_name, value] : overrides) {
        if (override_name == name) {
          replaced = true;
          break;
        }
      }
      if (!replaced) envp_.push_back(*e);
    }
    for (std::string& entry : added_) envp_.push_back(entry.data());
    envp_.push_back(nullptr);
  }
  ChildEnv(const ChildEnv&) = delete;
  ChildEnv& operator=(const ChildEnv&) = delete;

  char* const* envp() const { return added_.empty() ? environ : envp_.data(); }

 private:
  std::vector<std::string> added_;
  std::vector<char*> envp_;
};

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

struct Spawned {
  pid_t pid = -1;
  UniqueFd output;  // read end of the stdout+stderr pipe
  std::string error;
};

Spawned Spawn(const ChildOptions& opts) {
  Spawned result;
  if (opts.argv.empty() || opts.argv[0].empty()) {
    result.error = "cannot run an empty command";
    return result;
  }
  const std::string& program = opts.argv[0];

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.error = "cannot run '" + program + "': pipe: " + ErrnoMessage(errno);
    return result;
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  if (!MoveAboveStdio(read_end) || !MoveAboveStdio(write_end)) {
    result.error = "cannot run '" + program + "': " + ErrnoMessage(errno);
    return result;
  }
  // Both ends stay blocking here: Asio makes its own end non-blocking when it first reads, and a
  // child whose stdout were non-blocking would see EAGAIN instead of blocking when we pause.

  SpawnFileActions actions;
  posix_spawn_file_actions_addopen(&actions.value, STDIN_FILENO,
                                   opts.stdin_file.empty() ? "/dev/null" : opts.stdin_file.c_str(),
                                   O_RDONLY, 0);
  if (opts.stdout_file.empty()) {
    posix_spawn_file_actions_adddup2(&actions.value, write_end.get(), STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions.value, STDOUT_FILENO, opts.stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  posix_spawn_file_actions_adddup2(&actions.value, write_end.get(), STDERR_FILENO);
  // Our own descriptors are O_CLOEXEC, but another thread of the worker may open one without it
  // (or between open and fcntl); close everything above stderr so no child inherits, say, a
  // socket to the master or the write end of another step's pipe, which would hold it open.
  // (One close_range call in the child, whatever the number of descriptors.)
  posix_spawn_file_actions_addclosefrom_np(&actions.value, STDERR_FILENO + 1);
  if (!opts.workdir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions.value, opts.workdir.c_str());
  }

  SpawnAttr attr;
  // A process group of its own (pgid = its pid), so that a timeout or cancel can signal the
  // whole tree with kill(-pgid). Signals reset: dispositions set to SIG_IGN survive exec (a
  // worker that ignores SIGPIPE would otherwise make `yes | head` spin), and so does the mask.
  posix_spawnattr_setflags(&attr.value,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr.value, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr.value, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr.value, &signals);

  // posix_spawn does not write through argv or envp; the casts only meet its C signature.
  std::vector<char*> argv;
  argv.reserve(opts.argv.size() + 1);
  for (const std::string& arg : opts.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ChildEnv env(opts.env);

  // glibc's posix_spawn runs the file actions and exec in a CLONE_VFORK child and returns their
  // errno here, so "no such program" and "cannot chdir" come back synchronously. A program
  // named without a '/' is spawned by the full path program_path.h found for it: one execve in
  // the child instead of one per PATH directory before it.
  std::string path = FindOnPath(program);
  auto spawn = [&](pid_t* pid) {
    if (!path.empty())
      return ::posix_spawn(pid, path.c_str(), &actions.value, &attr.value, argv.data(), env.envp());
    return ::posix_spawnp(pid, program.c_str(), &actions.value, &attr.value, argv.data(),
                          env.envp());
  };
  pid_t pid = -1;
  int err = spawn(&pid);
  // The workdir is created when missing, found so by the failed chdir: a directory that exists
  // (the usual case) costs no system call here.
  if (err != 0 && !opts.workdir.empty() && !IsDirectory(opts.workdir)) {
    std::error_code ec;
    std::filesystem::create_directories(opts.workdir, ec);
    if (ec) {
      result.error = "cannot create workdir '" + opts.workdir + "': " + ec.message();
      return result;
    }
    err = spawn(&pid);
  }
  if (err != 0 && !path.empty()) {
    // The remembered path went away (or was never fit): let posix_spawnp search and report.
    ForgetOnPath(program);
    path.clear();
    err = spawn(&pid);
  }
  if (err != 0) {
    // The same errno can come from the chdir or from the exec; tell them apart for the message.
    struct stat st;
    if (!opts.workdir.empty() && (::stat(opts.workdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
                                  ::access(opts.workdir.c_str(), X_OK) != 0)) {
      result.error = "cannot enter workdir '" + opts.workdir + "': " + ErrnoMessage(err);
    } else {
      result.error = "cannot run '" + program + "': " + ErrnoMessage(err);
    }
    return result;
  }
  result.pid = pid;
  result.output = std::move(read_end);
  return result;  // |write_end| closes here: the child holds the only copies, so EOF can come
}

// A spawn under way on a spawn thread and its outcome, handed to the io thread (or, when the
// handle went first, to its destructor): whoever sets |taken| owns the child.
struct SpawnSlot {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;       // the spawn thread has finished (|result| is set)
  bool abandoned = false;  // the handle is gone: nothing is posted to the io thread any more
  bool taken = false;
  pid_t pid = -1;
  Spawned result;
  // Keeps the io_context's run() going while nothing of the child is there to wait for yet.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

class ChildState : public std::enable_shared_from_this<ChildState> {
 public:
  ChildState(asio::io_context& io, ChildProcess::OutputFn on_output, ChildProcess::ExitFn on_exit)
      : io_(io),
        on_output_(std::move(on_output)),
        on_exit_(std::move(on_exit)),
        pipe_(io),
        pidfd_(io),
        timeout_timer_(io),
        kill_timer_(io),
        eof_timer_(io),
        poll_timer_(io),
        buffer_(std::make_unique_for_overwrite<char[]>(kFirstReadBufferSize)),
        buffer_size_(kFirstReadBufferSize) {}

  void Begin(const ChildOptions& opts) {
    kill_grace_ = opts.kill_grace;
    spawning_ = true;
    slot_ = std::make_shared<SpawnSlot>();
    slot_->work.emplace(io_.get_executor());
    // The task holds no reference to this state: the last one must go on the io thread.
    RunOnSpawnThread(io_, [slot = slot_, opts, weak = weak_from_this(), &io = io_] {
      Spawned spawned = Spawn(opts);
      std::lock_guard lock(slot->mu);
      slot->pid = spawned.pid;
      slot->result = std::move(spawned);
      slot->done = true;
      // Under the lock: once Detach() has seen |done|, this thread no longer touches |io|.
      auto work = std::move(*slot->work);
      slot->work.reset();
      if (!slot->abandoned)
        asio::post(io, [weak, work = std::move(work)] {
          if (auto self = weak.lock()) self->OnSpawned();
        });
      else
        work.reset();
      slot->cv.notify_all();
    });
    if (opts.timeout.count() > 0) {
      timeout_timer_.expires_after(opts.timeout);
      timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->detached_ || self->reaped_ || self->terminating_) return;
        self->exit_.timed_out = true;
        self->Terminate();
      });
    }
  }

  // On the io thread, once the spawn thread is done.
  void OnSpawned() {
    Spawned spawned;
    {
      std::lock_guard lock(slot_->mu);
      if (slot_->taken) return;  // Detach() has it (and has killed and reaped the child)
      slot_->taken = true;
      spawned = std::move(slot_->result);
    }
    spawning_ = false;
    if (detached_) return;
    if (!spawned.error.empty()) {
      exit_.error = std::move(spawned.error);
      reaped_ = pipe_eof_ = true;
      CloseAll();
      return MaybeFinish();  // a posted handler: never from inside Start()
    }
    pid_ = spawned.pid;

    boost::system::error_code ec;
    pipe_.assign(spawned.output.get(), ec);
    if (ec) {
      pipe_eof_ = true;  // cannot happen short of ENOMEM; still report the exit
    } else {
      spawned.output.release();
      StartRead();
    }

    // The child cannot have been reaped yet (only we wait for it), so the pid still names it.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (pidfd) pidfd_.assign(pidfd.get(), ec);
    if (pidfd && !ec) {
      pidfd.release();
      pidfd_.async_wait(asio::posix::descriptor_base::wait_read,
                        [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->OnPidfdReadable(ec);
                        });
    } else {
      SchedulePoll();
    }
    // Cancelled or timed out while it was being spawned.
    if (terminating_) Terminate();
  }

  // Called by the handle's destructor: no callback may run after this returns.
  void Detach() {
    detached_ = true;
    if (spawning_) {
      // The spawn may still be under way: wait for it, and take the child unless OnSpawned did.
      Spawned spawned;
      {
        std::unique_lock lock(slot_->mu);
        slot_->abandoned = true;
        slot_->cv.wait(lock, [&] { return slot_->done; });
        if (!slot_->taken) {
          slot_->taken = true;
          spawned = std::move(slot_->result);
        }
      }
      spawning_ = false;
      if (spawned.pid > 0) {
        ::kill(-spawned.pid, SIGKILL);
        int status;
        while (::waitpid(spawned.pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
    if (pid_ > 0 && !reaped_) {
      KillGroup(SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
    CloseAll();
    on_exit_ = nullptr;
    // Destroyed from inside on_output: that std::function is still running; Deliver() drops it.
    if (!in_output_callback_) on_output_ = nullptr;
  }

  void Cancel() {
    if ((pid_ <= 0 && !spawning_) || reaped_ || terminating_ || detached_) return;
    exit_.cancelled = true;
    Terminate();
  }

  void PauseOutput() { paused_ = true; }

  void ResumeOutput() {
    if (!paused_) return;
    paused_ = false;
    // Inside on_output, Deliver() continues once the callback returns; reading now would
    // overwrite the buffer the callback's chunk points into.
    if (in_output_callback_ || finished_ || detached_) return;
    if (stashed_ > 0) {
      // Deliver the chunk that arrived while paused, but not from inside this call.
      if (!flush_posted_) {
        flush_posted_ = true;
        asio::post(io_, [self = shared_from_this()] {
          self->flush_posted_ = false;
          self->Flush();
        });
      }
      return;
    }
    StartRead();
  }

  // While the spawn is under way, waits for it (a few ms at most).
  int pid() const {
    if (!spawning_) return pid_;
    std::unique_lock lock(slot_->mu);
    slot_->cv.wait(lock, [&] { return slot_->done; });
    return slot_->pid;
  }

 private:
  void StartRead() {
    if (read_pending_ || paused_ || pipe_eof_ || detached_ || in_output_callback_ || stashed_ > 0)
      return;
    if (last_read_ == buffer_size_ && buffer_size_ < kReadBufferSize) {
      // The last read filled the buffer (delivered by now): a chatty step, read in large chunks.
      buffer_ = std::make_unique_for_overwrite<char[]>(kReadBufferSize);
      buffer_size_ = kReadBufferSize;
    }
    read_pending_ = true;
    pipe_.async_read_some(asio::buffer(buffer_.get(), buffer_size_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    read_pending_ = false;
    last_read_ = n;
    if (detached_ || finished_) return;
    if (n > 0) {
      // A read that was already under way when PauseOutput() was called: keep it in the buffer
      // (memory stays bounded by one buffer) and deliver it on resume.
      if (paused_) {
        stashed_ = n;
        return;
      }
      Deliver(n);
      return;
    }
    if (ec == asio::error::operation_aborted) return;  // we closed the pipe
    // EOF, or a read error: either way nothing more will come through this pipe.
    pipe_eof_ = true;
    boost::system::error_code ignored;
    pipe_.close(ignored);
    eof_timer_.cancel();
    MaybeFinish();
  }

  void Flush() {
    if (detached_ || finished_ || paused_) return;
    if (stashed_ > 0) {
      Deliver(std::exchange(stashed_, 0));
    } else {
      StartRead();
    }
  }

  void Deliver(size_t n) {
    in_output_callback_ = true;
    if (on_output_) on_output_(std::string_view(buffer_.get(), n));
    in_output_callback_ = false;
    if (detached_) {
      on_output_ = nullptr;
      return;
    }
    StartRead();
  }

  void OnPidfdReadable(const boost::system::error_code& ec) {
    if (detached_ || reaped_) return;
    if (ec == asio::error::operation_aborted) return;
    CheckExit();
  }

  void SchedulePoll() {
    poll_interval_ =
        poll_interval_.count() == 0 ? kPollFirst : std::min(poll_interval_ * 2, kPollMax);
    poll_timer_.expires_after(poll_interval_);
    poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->detached_ || self->reaped_) return;
      self->CheckExit();
    });
  }

  void CheckExit() {
    // WNOWAIT: look without reaping, so that the zombie keeps its pid (which is also the pgid)
    // reserved while we kill what is left of the group; after the reap, the number could be
    // reused by an unrelated process group.
    siginfo_t info{};
    int r;
    while ((r = ::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR) {
    }
    if (r < 0) {
      // ECHILD: somebody else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere).
      exit_.error = "lost track of process " + std::to_string(pid_) + ": " + ErrnoMessage(errno);
      OnReaped();
      return;
    }
    if (info.si_pid == 0) {  // not exited after all (the pidfd said otherwise): poll
      SchedulePoll();
      return;
    }
    // Background jobs the command left behind would keep the pipe open (and keep running after
    // the step): the step is over, so is its group.
    KillGroup(SIGKILL);
    int status = 0;
    while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == pid_) {
      if (WIFEXITED(status)) exit_.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) exit_.signal = WTERMSIG(status);
    }
    OnReaped();
  }

  void OnReaped() {
    reaped_ = true;
    timeout_timer_.cancel();
    kill_timer_.cancel();
    poll_timer_.cancel();
    boost::system::error_code ignored;
    pidfd_.close(ignored);
    if (!pipe_eof_) {
      eof_timer_.expires_after(kEofGraceAfterExit);
      ArmEofTimer();
    }
    MaybeFinish();
  }

  void ArmEofTimer() {
    eof_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->detached_ || self->finished_ || self->pipe_eof_) return;
      if (self->paused_ || self->stashed_ > 0) {
        // The consumer holds the output back; what is in the pipe is still wanted.
        self->eof_timer_.expires_after(kEofGraceAfterExit);
        self->ArmEofTimer();
        return;
      }
      // Held open by a process outside the group. Stop waiting for it; a read that completed
      // in this same instant is dropped (at most one buffer of a runaway's output).
      self->pipe_eof_ = true;
      boost::system::error_code ignored;
      self->pipe_.close(ignored);
      self->MaybeFinish();
    });
  }

  // SIGTERM now, SIGKILL after the grace period unless the main process has exited by then
  // (its exit SIGKILLs the rest of the group anyway).
  void Terminate() {
    terminating_ = true;
    if (spawning_) return;  // OnSpawned terminates it once its pid is known
    KillGroup(SIGTERM);
    KillGroup(SIGCONT);  // a stopped process would not act on SIGTERM until continued
    kill_timer_.expires_after(kill_grace_);
    kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->detached_ || self->reaped_) return;
      self->KillGroup(SIGKILL);
    });
  }

  // Only while the leader is unreaped: its pid then cannot name any other process group.
  void KillGroup(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
  }

  void MaybeFinish() {
    if (finished_ || !reaped_ || !pipe_eof_) return;
    finished_ = true;
    CloseAll();
    on_output_ = nullptr;
    // Moved out first: the callback may destroy the ChildProcess (and so Detach() this state).
    ChildProcess::ExitFn on_exit = std::move(on_exit_);
    on_exit_ = nullptr;
    if (on_exit) on_exit(exit_);
  }

  void CloseAll() {
    boost::system::error_code ignored;
    pipe_.close(ignored);
    pidfd_.close(ignored);
    timeout_timer_.cancel();
    kill_timer_.cancel();
    eof_timer_.cancel();
    poll_timer_.cancel();
  }

  asio::io_context& io_;
  ChildProcess::OutputFn on_output_;
  ChildProcess::ExitFn on_exit_;
  asio::posix::stream_descriptor pipe_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer timeout_timer_;
  asio::steady_timer kill_timer_;
  asio::steady_timer eof_timer_;  // guards the pipe after the main process has exited
  asio::steady_timer poll_timer_;
  std::unique_ptr<char[]> buffer_;
  size_t buffer_size_;
  size_t last_read_ = 0;  // bytes the last read brought
  milliseconds kill_grace_{0};
  milliseconds poll_interval_{0};
  pid_t pid_ = -1;
  ChildExit exit_;
  size_t stashed_ = 0;  // bytes in |buffer_| read while paused, not yet delivered
  bool reaped_ = false;
  bool pipe_eof_ = false;
  bool finished_ = false;  // on_exit has been called
  bool detached_ = false;  // the handle is gone
  bool terminating_ = false;
  bool paused_ = false;
  bool read_pending_ = false;
  bool in_output_callback_ = false;
  bool flush_posted_ = false;
  bool spawning_ = false;  // the spawn thread has not been heard from yet (OnSpawned)
  std::shared_ptr<SpawnSlot> slot_;
};

class ChildHandle final : public ChildProcess {
 public:
  explicit ChildHandle(std::shared_ptr<ChildState> state) : state_(std::move(state)) {}
  ~ChildHandle() override { state_->Detach(); }

  void Cancel() override { state_->Cancel(); }
  void PauseOutput() override { state_->PauseOutput(); }
  void ResumeOutput() override { state_->ResumeOutput(); }
  int pid() const override { return state_->pid(); }

 private:
  std::shared_ptr<ChildState> state_;
};

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Start(boost::asio::io_context& io,
                                                  const ChildOptions& opts, OutputFn on_output,
                                                  ExitFn on_exit) {
  auto state = std::make_shared<ChildState>(io, std::move(on_output), std::move(on_exit));
  state->Begin(opts);
  return std::make_unique<ChildHandle>(std::move(state));
}

}  // namespace grove
