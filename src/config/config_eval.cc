#include "config/config_eval.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>
#include <vector>

#include "config/config_json.h"
#include "config/loader.h"
#include "core/duration.h"

extern char** environ;

namespace grove {

namespace {

using Clock = std::chrono::steady_clock;

// The child's own hook reports an endless loop with its line at the time limit; the parent's
// deadline comes this much later and catches what the hook cannot (a C function that never
// returns, a process that ignores the limit).
constexpr std::chrono::milliseconds kDeadlineGrace{1000};

// The address-space limit is the Lua budget plus room for the binary, its libraries and the
// C++ side (the Config and its JSON); RLIMIT_AS only backs the Lua budget up.
constexpr size_t kAddressSpaceHeadroom = size_t{256} << 20;

// The evaluated config is read into the parent's memory (the master's): a bound on it.
constexpr size_t kMaxResultBytes = size_t{64} << 20;

// The process group of the evaluation in progress, for the signal handlers of
// KillConfigEvaluationOnSignals (a handler can reach nothing but a global).
std::atomic<pid_t> g_running_group{0};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Moves |fd| above the standard descriptors (the parent may run with 0-2 closed, and the child's
// dup2 onto 1 would then clobber it).
bool MoveAboveStdio(Fd& fd) {
  if (fd.get() > STDERR_FILENO) return true;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

std::string ChunkName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

const char* StatusName(const Status& st) {
  if (st.IsNotFound()) return "not_found";
  if (st.IsInvalid()) return "invalid";
  if (st.code() == Status::Code::kIo) return "io";
  return "unavailable";
}

Status StatusFromName(const std::string& name, std::string message) {
  if (name == "not_found") return Status::NotFound(std::move(message));
  if (name == "invalid") return Status::Invalid(std::move(message));
  if (name == "io") return Status::IoError(std::move(message));
  return Status::Unavailable(std::move(message));
}

// A running child: its pid (also its process group and session) and the read end of its result.
struct Child {
  pid_t pid = -1;
  Fd result;
};

Status Spawn(const std::string& path, const EvalOptions& options, Child* child) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::Unavailable(std::string("cannot evaluate the config: pipe: ") +
                               std::strerror(errno));
  Fd read_end(fds[0]), write_end(fds[1]);
  if (!MoveAboveStdio(read_end) || !MoveAboveStdio(write_end))
    return Status::Unavailable(std::string("cannot evaluate the config: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  // Our pipes are O_CLOEXEC, but another thread may open a descriptor without it: the config's
  // os.execute must inherit no socket or file of the master.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A session (hence a process group) of its own: killing the group ends whatever the config
  // started. Signals reset: the master's mask and ignored signals must not reach the config.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr, &signals);

  std::vector<std::string> args = {
      options.program,
      "__eval-config",
      path,
      "--time-limit-ms",
      std::to_string(options.limits.time.count()),
      "--cpu-limit-s",
      std::to_string(options.limits.cpu.count()),
      "--memory-limit-bytes",
      std::to_string(options.limits.memory),
      "--parent-pid",
      std::to_string(::getpid()),
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int err = ::posix_spawn(&pid, options.program.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0)
    return Status::Unavailable("cannot evaluate the config: cannot run " + options.program + ": " +
                               std::strerror(err));
  child->pid = pid;
  child->result = std::move(read_end);
  return Status::Ok();  // |write_end| closes here: EOF comes when the child has gone
}

// True once |pid| has exited (it stays a zombie: its pid, which names its group, stays ours).
bool HasExited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

struct Outcome {
  std::string result;  // what the child wrote
  bool timed_out = false;
  bool cancelled = false;
  bool too_large = false;
  int wait_status = 0;
  double cpu_seconds = 0;
};

// Reads the child's result until it has exited, the deadline passes or |cancel_fd| fires; then
// kills its process group and reaps it.
Outcome Supervise(Child& child, const EvalOptions& options) {
  Outcome out;
  const Clock::time_point deadline = Clock::now() + options.limits.time + kDeadlineGrace;
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
  bool pipe_open = true, exited = false;
  char buf[65536];
  while (!exited || pipe_open) {
    auto now = Clock::now();
    if (now >= deadline) {
      out.timed_out = true;
      break;
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    // Without a pidfd (old kernel, no descriptor left) the exit is polled for.
    if (pidfd.get() < 0 && !exited) wait_ms = std::min(wait_ms, 20);
    pollfd fds[3];
    nfds_t n = 0;
    int pipe_index = -1, pid_index = -1, cancel_index = -1;
    if (pipe_open) {
      pipe_index = static_cast<int>(n);
      fds[n++] = {child.result.get(), POLLIN, 0};
    }
    if (!exited && pidfd.get() >= 0) {
      pid_index = static_cast<int>(n);
      fds[n++] = {pidfd.get(), POLLIN, 0};
    }
    if (options.cancel_fd >= 0) {
      cancel_index = static_cast<int>(n);
      fds[n++] = {options.cancel_fd, POLLIN, 0};
    }
    int ready = ::poll(fds, n, wait_ms);
    if (ready < 0 && errno != EINTR) break;  // cannot happen with valid descriptors; kill below
    if (ready <= 0) {
      if (pidfd.get() < 0 && !exited && HasExited(child.pid)) {
        exited = true;
        ::kill(-child.pid, SIGKILL);
      }
      continue;
    }
    if (cancel_index >= 0 && fds[cancel_index].revents != 0) {
      out.cancelled = true;
      break;
    }
    if (pid_index >= 0 && fds[pid_index].revents != 0) exited = true;
    // Whatever the config left running goes at once (the zombie keeps the group's id ours), so
    // no process of it can keep the pipe open or outlive the evaluation.
    if (exited) ::kill(-child.pid, SIGKILL);
    if (pipe_index >= 0 && fds[pipe_index].revents != 0) {
      ssize_t got = ::read(child.result.get(), buf, sizeof buf);
      if (got > 0) {
        if (out.result.size() + static_cast<size_t>(got) > kMaxResultBytes) {
          out.too_large = true;
          break;
        }
        out.result.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        pipe_open = false;
      }
    }
    if (pidfd.get() < 0 && !exited && HasExited(child.pid)) {
      exited = true;
      ::kill(-child.pid, SIGKILL);
    }
  }
  // The child is a zombie or still running: either way its pid still names its group.
  ::kill(-child.pid, SIGKILL);
  rusage usage{};
  while (::wait4(child.pid, &out.wait_status, 0, &usage) < 0 && errno == EINTR) {
  }
  out.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return out;
}

// Turns what the child left into the result of EvaluateConfig.
Status Interpret(const std::string& path, const EvalOptions& options, const Outcome& o,
                 Config* out) {
  const std::string chunk = ChunkName(path);
  const ConfigLimits& limits = options.limits;
  if (o.cancelled) return Status::Unavailable("the evaluation of " + chunk + " was cancelled");
  if (o.timed_out)
    return Status::Invalid(chunk + ": evaluation exceeded " +
                           config_internal::DescribeTimeLimit(limits.time));
  if (o.too_large)
    return Status::Invalid(chunk + ": the evaluated configuration is larger than " +
                           std::to_string(kMaxResultBytes >> 20) + " MiB");
  if (WIFSIGNALED(o.wait_status)) {
    int sig = WTERMSIG(o.wait_status);
    // SIGXCPU at the soft limit, SIGKILL at the hard one (a second later).
    if (sig == SIGXCPU ||
        (sig == SIGKILL && o.cpu_seconds >= static_cast<double>(limits.cpu.count())))
      return Status::Invalid(chunk + ": evaluation exceeded " +
                             config_internal::DescribeCpuLimit(limits.cpu));
    // Stack growth or a C++ allocation refused by RLIMIT_AS ends the child like this.
    return Status::Invalid(chunk + ": the evaluation was killed by signal " + std::to_string(sig) +
                           " (" + strsignal(sig) + "), perhaps at " +
                           config_internal::DescribeMemoryLimit(limits.memory));
  }
  int code = WIFEXITED(o.wait_status) ? WEXITSTATUS(o.wait_status) : -1;
  if (code != 0 || o.result.empty())
    return Status::Unavailable("the evaluation of " + chunk + " failed (exit status " +
                               std::to_string(code) + ", no result)");

  Json envelope = Json::parse(o.result, nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded() || !envelope.is_object())
    return Status::Unavailable("the evaluation of " + chunk + " returned malformed output");
  auto error = envelope.find("error");
  if (error != envelope.end()) {
    auto status = envelope.find("status");
    if (!error->is_string() || status == envelope.end() || !status->is_string())
      return Status::Unavailable("the evaluation of " + chunk + " returned malformed output");
    return StatusFromName(status->get<std::string>(), error->get<std::string>());
  }
  auto config = envelope.find("config");
  if (config == envelope.end())
    return Status::Unavailable("the evaluation of " + chunk + " returned malformed output");
  Config parsed;
  Status st = ConfigFromJson(*config, &parsed);
  if (!st.ok())
    return Status::Unavailable("the evaluation of " + chunk + " returned a " + st.message());
  *out = std::move(parsed);
  return Status::Ok();
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void SetLimit(int resource, rlim_t soft, rlim_t hard) {
  rlimit limit{soft, hard};
  ::setrlimit(resource, &limit);
}

void KillEvaluationAndReraise(int sig) {
  pid_t group = g_running_group.load();
  if (group > 0) ::kill(-group, SIGKILL);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

Status ParseTimeLimit(const std::string& text, std::chrono::milliseconds* out) {
  std::chrono::seconds s;
  GROVE_RETURN_IF_ERROR(ParseDuration(text, &s));
  if (s.count() <= 0) return Status::Invalid("the time limit must be at least 1 s");
  *out = s;
  return Status::Ok();
}

Status ParseCpuLimit(const std::string& text, std::chrono::seconds* out) {
  std::chrono::seconds s;
  GROVE_RETURN_IF_ERROR(ParseDuration(text, &s));
  if (s.count() <= 0) return Status::Invalid("the CPU limit must be at least 1 s");
  *out = s;
  return Status::Ok();
}

Status ParseMemoryLimit(const std::string& text, size_t* out) {
  // A number of MiB, optionally written with the unit.
  std::string digits = text;
  if (digits.size() > 3 && digits.compare(digits.size() - 3, 3, "MiB") == 0)
    digits.resize(digits.size() - 3);
  if (digits.empty() || digits.size() > 7 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return Status::Invalid("invalid memory limit '" + text + "': expected a number of MiB");
  size_t mib = std::stoul(digits);
  if (mib < 16) return Status::Invalid("the memory limit must be at least 16 MiB");
  *out = mib << 20;
  return Status::Ok();
}

Status ConfigLimitsFromEnv(ConfigLimits* out) {
  ConfigLimits limits;
  if (const char* v = std::getenv("GROVE_CONFIG_TIME_LIMIT"); v && *v) {
    Status st = ParseTimeLimit(v, &limits.time);
    if (!st.ok()) return Status::Invalid("$GROVE_CONFIG_TIME_LIMIT: " + st.message());
  }
  if (const char* v = std::getenv("GROVE_CONFIG_CPU_LIMIT"); v && *v) {
    Status st = ParseCpuLimit(v, &limits.cpu);
    if (!st.ok()) return Status::Invalid("$GROVE_CONFIG_CPU_LIMIT: " + st.message());
  }
  if (const char* v = std::getenv("GROVE_CONFIG_MEMORY_LIMIT"); v && *v) {
    Status st = ParseMemoryLimit(v, &limits.memory);
    if (!st.ok()) return Status::Invalid("$GROVE_CONFIG_MEMORY_LIMIT: " + st.message());
  }
  *out = limits;
  return Status::Ok();
}

Status EvaluateConfig(const std::string& path, const EvalOptions& options, Config* out) {
  Child child;
  GROVE_RETURN_IF_ERROR(Spawn(path, options, &child));
  g_running_group.store(child.pid);
  Outcome outcome = Supervise(child, options);
  g_running_group.store(0);
  return Interpret(path, options, outcome, out);
}

int RunConfigEvaluation(const std::string& path, const ConfigLimits& limits, pid_t parent) {
  // Die with the parent; if it is gone already, nobody wants the result.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 1;
  SetLimit(RLIMIT_CORE, 0, 0);
  const auto cpu = static_cast<rlim_t>(limits.cpu.count());
  SetLimit(RLIMIT_CPU, cpu, cpu + 1);
  const auto as = static_cast<rlim_t>(limits.memory + kAddressSpaceHeadroom);
  SetLimit(RLIMIT_AS, as, as);

  // The result goes to the original standard output, which only the parent reads; whatever the
  // config prints (print, os.execute) goes to standard error, and the result's descriptor is
  // close-on-exec, so no process the config starts can hold it open.
  Fd result(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
  if (result.get() < 0) return 1;
  ::dup2(STDERR_FILENO, STDOUT_FILENO);

  Json envelope;
  try {
    config_internal::LoadOptions load;
    load.time_limit = limits.time;
    load.memory_limit = limits.memory;
    Config config;
    Status st = config_internal::LoadConfigWithOptions(path, load, &config);
    if (st.ok())
      envelope = {{"config", ConfigToJson(config)}};
    else
      envelope = {{"error", st.message()}, {"status", StatusName(st)}};
  } catch (const std::bad_alloc&) {
    envelope = {{"error", ChunkName(path) + ": evaluation exceeded " +
                              config_internal::DescribeMemoryLimit(limits.memory)},
                {"status", "invalid"}};
  }
  std::string text;
  try {
    text = envelope.dump();
  } catch (const Json::type_error&) {
    text = Json{{"error", ChunkName(path) +
                              ": the configuration holds text that is not valid UTF-8 (a secret "
                              "file?)"},
                {"status", "invalid"}}
               .dump();
  }
  std::fflush(stdout);  // what the config printed, before the result ends the evaluation
  return WriteAll(result.get(), text) ? 0 : 1;
}

void KillConfigEvaluationOnSignals() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction action {};
    action.sa_handler = &KillEvaluationAndReraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(sig, &action, nullptr);
  }
}

}  // namespace grove
