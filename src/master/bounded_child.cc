#include "master/bounded_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>

#include "core/log.h"

namespace grove {

namespace {

std::string ErrnoMessage(int err) {
  return std::system_category().message(err);
}

// The PATH of |env| (the child's environment), or the usual default.
std::string PathOf(const std::vector<std::string>& env) {
  for (const std::string& e : env)
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  return "/usr/local/bin:/usr/bin:/bin";
}

// Resolved before fork: execvp may allocate, which a child of a threaded process must not.
std::string FindProgram(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

// Tells the parent why the child could not exec, and ends the child.
[[noreturn]] void FailChild(int status_fd, int err) {
  while (::write(status_fd, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

// In the child, between fork and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void ExecChild(pid_t parent, int death_signal, int out_fd, int err_fd, int status_fd,
                            const char* cwd, const char* program, char* const* argv,
                            char* const* envp, rlim_t max_fd) {
  // A group of its own, so that one kill(-pid) reaches the program's helpers too; made here
  // (not only by `timeout`) so that the master can signal the group from the first instant.
  ::setpgid(0, 0);
  if (::prctl(PR_SET_PDEATHSIG, death_signal) != 0) FailChild(status_fd, errno);
  if (::getppid() != parent) ::_exit(127);  // the master died before the line above
  // Signals: an empty mask, and SIG_IGN (which survives exec) reset to the default.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);

  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) FailChild(status_fd, errno);
  if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
      ::dup2(err_fd, STDERR_FILENO) < 0)
    FailChild(status_fd, errno);
  if (cwd && ::chdir(cwd) != 0) FailChild(status_fd, errno);
  // Everything above stderr goes, whatever its flags; the status pipe stays until exec (it is
  // O_CLOEXEC, so a successful exec closes it and the parent reads EOF).
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    unsigned s = static_cast<unsigned>(status_fd);
    if (::close_range(3, s - 1, 0) != 0 || ::close_range(s + 1, ~0U, 0) != 0) {
      for (rlim_t fd = 3; fd < max_fd; ++fd)
        if (fd != s) ::close(static_cast<int>(fd));
    }
  }
  ::execve(program, argv, envp);
  FailChild(status_fd, errno);
}

}  // namespace

Status StartBounded(const BoundedCommand& cmd, BoundedChild* child) {
  if (cmd.argv.empty() || cmd.argv[0].empty()) return Status::Invalid("empty command");
  const std::string& name = cmd.argv[0];
  const std::string path = PathOf(cmd.env);
  std::string program = FindProgram(name, path);
  if (program.empty())
    return Status::IoError("cannot run " + name + ": " + ErrnoMessage(ENOENT) + " (not in PATH)");

  std::vector<std::string> argv_s;
  static const std::string timeout_program = FindProgram("timeout", path);
  const bool use_timeout = !timeout_program.empty();
  if (use_timeout) {
    argv_s = {"timeout", "--kill-after=" + std::to_string(kBoundedKillAfterS) + "s",
              std::to_string(cmd.limit_s) + "s", program};
    argv_s.insert(argv_s.end(), cmd.argv.begin() + 1, cmd.argv.end());
  } else {
    static std::once_flag warned;
    std::call_once(warned, [] {
      spdlog::warn(
          "coreutils' timeout is not in PATH: git runs without a time bound of its own (it "
          "still dies with the master)");
    });
    argv_s = cmd.argv;
  }
  const std::string& exec_path = use_timeout ? timeout_program : program;
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = cmd.env;
  std::vector<char*> envp;
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2], status_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::IoError("pipe: " + ErrnoMessage(errno));
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Status::IoError("pipe: " + ErrnoMessage(errno));
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return Status::IoError("pipe: " + ErrnoMessage(errno));
  UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);
  struct rlimit lim {};
  rlim_t max_fd =
      ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? lim.rlim_cur : 65536;

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::IoError("cannot run " + name + ": fork: " + ErrnoMessage(errno));
  if (pid == 0)
    ExecChild(parent, use_timeout ? SIGTERM : SIGKILL, out_w.get(), err_w.get(), status_w.get(),
              cmd.cwd.empty() ? nullptr : cmd.cwd.c_str(), exec_path.c_str(), argv.data(),
              envp.data(), max_fd);
  // The parent sets the group too: whichever runs first, kill(-pid) works once we return.
  ::setpgid(pid, pid);
  out_w.reset();
  err_w.reset();
  status_w.reset();
  int child_errno = 0;
  ssize_t got;
  while ((got = ::read(status_r.get(), &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  if (got > 0) {  // exec (or a step before it) failed: the child has exited
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!cmd.cwd.empty() && ::access(cmd.cwd.c_str(), X_OK) != 0)
      return Status::IoError("cannot run " + name + " in " + cmd.cwd + ": " +
                             ErrnoMessage(child_errno));
    return Status::IoError("cannot run " + name + ": " + ErrnoMessage(child_errno));
  }
  child->pid = pid;
  child->out = std::move(out_r);
  child->err = std::move(err_r);
  child->bounded_by_timeout = use_timeout;
  return Status::Ok();
}

}  // namespace grove
