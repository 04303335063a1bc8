// ChildProcess against real /bin/sh commands on a real io_context.
#include "worker/child_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "worker/program_path.h"

namespace grove {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ChildOptions Sh(const std::string& script) {
  ChildOptions opts;
  opts.argv = {"/bin/sh", "-c", script};
  return opts;
}

struct Outcome {
  std::string output;
  std::optional<ChildExit> exit;
  Clock::duration elapsed{};
  int chunks = 0;
};

// Runs |opts| to its on_exit (or |limit|) on a fresh io_context.
Outcome RunToExit(const ChildOptions& opts, Clock::duration limit = 30s) {
  asio::io_context io;
  Outcome out;
  auto start = Clock::now();
  auto child = ChildProcess::Start(
      io, opts,
      [&](std::string_view chunk) {
        out.output.append(chunk);
        ++out.chunks;
      },
      [&](const ChildExit& exit) {
        out.exit = exit;
        out.elapsed = Clock::now() - start;
      });
  while (!out.exit && Clock::now() - start < limit) io.run_one_for(100ms);
  return out;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "grove-child-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True once |pid| is gone, or a zombie waiting for a reaper that is not us (init in a container
// may be slow to reap, or not reap at all).
bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

bool WaitGone(pid_t pid, Clock::duration limit = 3s) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (ProcessGone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return ProcessGone(pid);
}

pid_t ReadPid(const std::filesystem::path& pidfile) {
  return static_cast<pid_t>(std::atoi(ReadFile(pidfile).c_str()));
}

int CountOpenFds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

TEST(ChildProcessTest, StdoutAndStderrMergedInOrder) {
  auto out =
      RunToExit(Sh("i=1; while [ $i -le 500 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"));
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->exit_code, 0);
  EXPECT_EQ(out.exit->signal, 0);
  EXPECT_TRUE(out.exit->error.empty());
  std::string expected;
  for (int i = 1; i <= 500; ++i) {
    expected += "out" + std::to_string(i) + "\nerr" + std::to_string(i) + "\n";
  }
  EXPECT_EQ(out.output, expected);
}

TEST(ChildProcessTest, ExitCodes) {
  auto ok = RunToExit(Sh("exit 0"));
  ASSERT_TRUE(ok.exit);
  EXPECT_EQ(ok.exit->exit_code, 0);
  auto three = RunToExit(Sh("echo bye; exit 3"));
  ASSERT_TRUE(three.exit);
  EXPECT_EQ(three.exit->exit_code, 3);
  EXPECT_EQ(three.exit->signal, 0);
  EXPECT_FALSE(three.exit->timed_out);
  EXPECT_FALSE(three.exit->cancelled);
  EXPECT_EQ(three.output, "bye\n");
}

TEST(ChildProcessTest, KilledBySignal) {
  auto out = RunToExit(Sh("kill -9 $$"));
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->signal, SIGKILL);
  EXPECT_EQ(out.exit->exit_code, -1);
  EXPECT_FALSE(out.exit->timed_out);
}

TEST(ChildProcessTest, ArgvRunsWithoutShellAndUsesPath) {
  ChildOptions opts;
  opts.argv = {"printf", "%s|%s", "a b", "$HOME"};
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->exit_code, 0);
  EXPECT_EQ(out.output, "a b|$HOME");
}

TEST(ChildProcessTest, ProgramNotFoundIsReportedAsynchronously) {
  asio::io_context io;
  std::optional<ChildExit> exit;
  ChildOptions opts;
  opts.argv = {"grove-no-such-program", "x"};
  auto child = ChildProcess::Start(
      io, opts, [](std::string_view) { ADD_FAILURE() << "no output expected"; },
      [&](const ChildExit& e) { exit = e; });
  EXPECT_FALSE(exit) << "on_exit must not run inside Start()";
  io.run_for(5s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->error, "cannot run 'grove-no-such-program': No such file or directory");
  EXPECT_FALSE(exit->timed_out);
}

TEST(ChildProcessTest, EmptyArgvIsAnError) {
  auto out = RunToExit(ChildOptions{});
  ASSERT_TRUE(out.exit);
  EXPECT_FALSE(out.exit->error.empty());
}

TEST(ChildProcessTest, WorkdirIsCreatedAndUsed) {
  TempDir tmp;
  auto workdir = tmp.path() / "a" / "b" / "c";
  ChildOptions opts = Sh("pwd");
  opts.workdir = workdir.string();
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->exit_code, 0) << out.exit->error;
  EXPECT_TRUE(std::filesystem::is_directory(workdir));
  EXPECT_EQ(out.output, std::filesystem::canonical(workdir).string() + "\n");
}

TEST(ChildProcessTest, WorkdirThatCannotBeCreatedIsAnError) {
  TempDir tmp;
  std::ofstream(tmp.path() / "file") << "x";
  ChildOptions opts = Sh("pwd");
  opts.workdir = (tmp.path() / "file" / "sub").string();
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_NE(out.exit->error.find("workdir '" + opts.workdir + "'"), std::string::npos)
      << out.exit->error;
  EXPECT_EQ(out.output, "");

  opts.workdir = (tmp.path() / "file").string();  // exists, but is not a directory
  out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_NE(out.exit->error.find("workdir '" + opts.workdir + "'"), std::string::npos)
      << out.exit->error;
}

TEST(ChildProcessTest, EnvironmentIsInheritedWithOverrides) {
  ::setenv("GROVE_CHILD_TEST_INHERITED", "from-worker", 1);
  ::setenv("GROVE_CHILD_TEST_REPLACED", "old", 1);
  ChildOptions opts =
      Sh("printf '%s|%s|%s' \"$GROVE_CHILD_TEST_INHERITED\" \"$GROVE_CHILD_TEST_REPLACED\" "
         "\"$GROVE_CHILD_TEST_ADDED\"; env | grep -c '^GROVE_CHILD_TEST_REPLACED='");
  opts.env = {{"GROVE_CHILD_TEST_REPLACED", "new"}, {"GROVE_CHILD_TEST_ADDED", "a = b"}};
  auto out = RunToExit(opts);
  ::unsetenv("GROVE_CHILD_TEST_INHERITED");
  ::unsetenv("GROVE_CHILD_TEST_REPLACED");
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.output, "from-worker|new|a = b1\n");
}

TEST(ChildProcessTest, ChildGetsCleanStdioSignalsAndGroup) {
  // A worker that ignores SIGPIPE and blocks a signal must not pass either on; nor may a
  // descriptor opened without O_CLOEXEC reach the child.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  ::sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  int leaked = ::dup(STDERR_FILENO);  // no O_CLOEXEC

  asio::io_context io;
  std::string shell_output;
  std::string signal_output;
  int done = 0;
  auto shell = ChildProcess::Start(
      io,
      // No pipeline here: the shell's own pipe would show up among its descriptors.
      Sh("readlink /proc/$$/fd/0; ls /proc/$$/fd; cut -d' ' -f5 "
         "/proc/$$/stat"),
      [&](std::string_view chunk) { shell_output.append(chunk); },
      [&](const ChildExit&) { ++done; });
  int shell_pid = shell->pid();
  // Signal state straight from exec (a shell blocks signals of its own while it waits).
  ChildOptions grep;
  grep.argv = {"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"};
  auto direct = ChildProcess::Start(
      io, grep, [&](std::string_view chunk) { signal_output.append(chunk); },
      [&](const ChildExit&) { ++done; });
  io.run_for(10s);

  ::close(leaked);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);

  ASSERT_EQ(done, 2);
  EXPECT_EQ(shell_output, "/dev/null\n0\n1\n2\n" + std::to_string(shell_pid) + "\n");
  unsigned long long blocked = ~0ull, ignored = ~0ull;
  ASSERT_EQ(std::sscanf(signal_output.c_str(), "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored),
            2)
      << signal_output;
  EXPECT_EQ(blocked, 0u);
  // glibc's posix_spawn leaves its two internal signals (32, 33) at SIG_IGN; every other
  // signal must be at its default.
  EXPECT_EQ(ignored & ~((1ull << 31) | (1ull << 32)), 0u) << signal_output;
}

TEST(ChildProcessTest, TimeoutKillsProcessAndGrandchild) {
  TempDir tmp;
  auto pidfile = tmp.path() / "pid";
  ChildOptions opts = Sh("sleep 300 & echo $! > " + pidfile.string() + "; sleep 300");
  opts.timeout = 1s;
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_TRUE(out.exit->timed_out);
  EXPECT_FALSE(out.exit->cancelled);
  EXPECT_EQ(out.exit->signal, SIGTERM);
  EXPECT_GE(out.elapsed, 900ms);
  EXPECT_LT(out.elapsed, 5s);
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitGone(grandchild)) << "grandchild " << grandchild << " survived";
}

TEST(ChildProcessTest, TimeoutEscalatesToSigkillAfterGrace) {
  TempDir tmp;
  auto pidfile = tmp.path() / "pid";
  // SIG_IGN for SIGTERM is inherited by the sleeps too: only SIGKILL ends any of them.
  ChildOptions opts =
      Sh("trap '' TERM; sleep 300 & echo $! > " + pidfile.string() + "; sleep 300; echo survived");
  opts.timeout = 1s;
  opts.kill_grace = 500ms;
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_TRUE(out.exit->timed_out);
  EXPECT_EQ(out.exit->signal, SIGKILL);
  EXPECT_GE(out.elapsed, 1400ms);
  EXPECT_LT(out.elapsed, 5s);
  EXPECT_EQ(out.output, "");
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitGone(grandchild));
}

TEST(ChildProcessTest, CancelKillsTheTree) {
  TempDir tmp;
  auto pidfile = tmp.path() / "pid";
  asio::io_context io;
  std::optional<ChildExit> exit;
  std::string output;
  std::unique_ptr<ChildProcess> child;
  child = ChildProcess::Start(
      io, Sh("sleep 300 & echo $! > " + pidfile.string() + "; echo started; sleep 300"),
      [&](std::string_view chunk) {
        output.append(chunk);
        child->Cancel();  // from inside a callback
        child->Cancel();  // twice is harmless
      },
      [&](const ChildExit& e) { exit = e; });
  auto start = Clock::now();
  while (!exit && Clock::now() - start < 10s) io.run_one_for(100ms);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->cancelled);
  EXPECT_FALSE(exit->timed_out);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_EQ(output, "started\n");
  EXPECT_LT(Clock::now() - start, 5s);
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitGone(grandchild));
  child->Cancel();  // after the exit: no effect
}

TEST(ChildProcessTest, BackgroundGrandchildDoesNotHoldTheExit) {
  auto out = RunToExit(Sh("sleep 300 & echo hi"));
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->exit_code, 0);
  EXPECT_EQ(out.output, "hi\n");
  // Well under the EOF guard: the group kill, not the guard, closed the pipe.
  EXPECT_LT(out.elapsed, 1s);
}

TEST(ChildProcessTest, EscapedGrandchildHoldingThePipeIsCutOff) {
  TempDir tmp;
  auto pidfile = tmp.path() / "pid";
  // setsid puts the grandchild outside the group, out of reach of the group kill.
  auto out = RunToExit(Sh("setsid sh -c 'echo $$ > " + pidfile.string() +
                          "; exec sleep 300' & while [ ! -s " + pidfile.string() +
                          " ]; do sleep 0.01; done; echo hi"));
  pid_t escaped = ReadPid(pidfile);
  if (escaped > 0) ::kill(escaped, SIGKILL);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->exit_code, 0);
  EXPECT_EQ(out.output, "hi\n");
  EXPECT_LT(out.elapsed, 6s);
}

TEST(ChildProcessTest, LargeOutputArrivesComplete) {
  asio::io_context io;
  size_t bytes = 0;
  bool all_a = true;
  std::optional<ChildExit> exit;
  auto child = ChildProcess::Start(
      io, Sh("head -c 50000000 /dev/zero | tr '\\0' a"),
      [&](std::string_view chunk) {
        bytes += chunk.size();
        if (chunk.find_first_not_of('a') != std::string_view::npos) all_a = false;
      },
      [&](const ChildExit& e) { exit = e; });
  io.run_for(60s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(bytes, 50000000u);
  EXPECT_TRUE(all_a);
}

TEST(ChildProcessTest, PauseFromCallbackStopsDeliveryAndResumeContinues) {
  asio::io_context io;
  size_t bytes = 0;
  int chunks = 0;
  std::optional<ChildExit> exit;
  std::unique_ptr<ChildProcess> child;
  child = ChildProcess::Start(
      io, Sh("head -c 10000000 /dev/zero"),
      [&](std::string_view chunk) {
        bytes += chunk.size();
        if (++chunks == 1) child->PauseOutput();
      },
      [&](const ChildExit& e) { exit = e; });
  io.run_for(500ms);
  EXPECT_EQ(chunks, 1);
  EXPECT_FALSE(exit) << "the writer must be blocked on the full pipe";
  child->ResumeOutput();
  io.run_for(30s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(bytes, 10000000u);
}

TEST(ChildProcessTest, PauseWhileAReadIsUnderWayHoldsItUntilResume) {
  asio::io_context io;
  size_t bytes = 0;
  std::optional<ChildExit> exit;
  auto child = ChildProcess::Start(
      io, Sh("head -c 10000000 /dev/zero"), [&](std::string_view chunk) { bytes += chunk.size(); },
      [&](const ChildExit& e) { exit = e; });
  while (bytes < 1000000 && !exit) io.run_one_for(1s);
  ASSERT_FALSE(exit);
  // Paused between handlers: a read is outstanding, and may already have completed.
  child->PauseOutput();
  size_t at_pause = bytes;
  io.run_for(500ms);
  EXPECT_EQ(bytes, at_pause);
  EXPECT_FALSE(exit);
  // Resume and pause again before anything runs: still nothing.
  child->ResumeOutput();
  child->PauseOutput();
  io.run_for(200ms);
  EXPECT_EQ(bytes, at_pause);
  child->ResumeOutput();
  io.run_for(30s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(bytes, 10000000u);
}

TEST(ChildProcessTest, DestroyingARunningChildKillsItWithoutCallbacks) {
  TempDir tmp;
  auto pidfile = tmp.path() / "pid";
  asio::io_context io;
  bool called = false;
  auto child = ChildProcess::Start(
      io,
      Sh("sleep 300 & echo $! > " + pidfile.string() + "; while :; do echo tick; sleep 0.01; done"),
      [&](std::string_view) {}, [&](const ChildExit&) { called = true; });
  child->PauseOutput();  // let a chunk wait in the stash, too
  io.run_for(300ms);
  pid_t pid = child->pid();
  ASSERT_GT(pid, 0);
  child.reset();
  EXPECT_NE(::kill(pid, 0), 0) << "reaped, so gone";
  io.restart();
  io.run_for(300ms);  // outstanding handlers run aborted
  EXPECT_FALSE(called);
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(WaitGone(grandchild));
}

TEST(ChildProcessTest, DestroyingFromInsideCallbacksIsSafe) {
  asio::io_context io;
  std::unique_ptr<ChildProcess> from_output;
  int output_calls = 0;
  from_output = ChildProcess::Start(
      io, Sh("while :; do echo x; done"),
      [&](std::string_view) {
        ++output_calls;
        from_output.reset();
      },
      [&](const ChildExit&) { ADD_FAILURE() << "destroyed: no exit"; });

  std::unique_ptr<ChildProcess> from_exit;
  bool exited = false;
  from_exit = ChildProcess::Start(
      io, Sh("echo done"), [](std::string_view) {},
      [&](const ChildExit&) {
        exited = true;
        from_exit.reset();
      });
  io.run_for(1s);
  EXPECT_EQ(output_calls, 1);
  EXPECT_TRUE(exited);
  EXPECT_FALSE(from_output);
  EXPECT_FALSE(from_exit);
}

// Sets PATH for one test and puts the worker's back afterwards.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() {
    if (had_) {
      ::setenv("PATH", old_.c_str(), 1);
    } else {
      ::unsetenv("PATH");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

void WriteScript(const std::filesystem::path& path, const std::string& body, mode_t mode) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), mode);
}

TEST(ProgramPathTest, FirstExecutableRegularFileOnPath) {
  TempDir tmp;
  auto a = tmp.path() / "a", b = tmp.path() / "b", c = tmp.path() / "c";
  for (const auto& d : {a, b, c}) std::filesystem::create_directories(d);
  std::filesystem::create_directories(a / "grove-pp-prog");  // a directory: skipped
  WriteScript(b / "grove-pp-prog", "echo b", 0644);          // not executable: skipped
  WriteScript(c / "grove-pp-prog", "echo c", 0755);
  ScopedPath path(a.string() + ":" + b.string() + ":" + c.string());
  EXPECT_EQ(FindOnPath("grove-pp-prog"), (c / "grove-pp-prog").string());
  EXPECT_EQ(FindOnPath("grove-pp-missing"), "");
  EXPECT_EQ(FindOnPath("c/grove-pp-prog"), "");  // a path, not a name: not looked up
}

TEST(ProgramPathTest, RelativeOrEmptyEntryBeforeTheProgramIsNotRemembered) {
  TempDir tmp;
  WriteScript(tmp.path() / "grove-pp-rel", "echo x", 0755);
  // Those entries mean the current directory at the time of each spawn.
  {
    ScopedPath path(":" + tmp.path().string());
    EXPECT_EQ(FindOnPath("grove-pp-rel"), "");
  }
  {
    ScopedPath path("bin:" + tmp.path().string());
    EXPECT_EQ(FindOnPath("grove-pp-rel"), "");
  }
  {
    ScopedPath path(tmp.path().string() + ":");  // after it: no matter
    EXPECT_EQ(FindOnPath("grove-pp-rel"), (tmp.path() / "grove-pp-rel").string());
  }
}

TEST(ChildProcessTest, ProgramMovedOnPathWhileRememberedStillRuns) {
  TempDir tmp;
  auto first = tmp.path() / "first", second = tmp.path() / "second";
  std::filesystem::create_directories(first);
  std::filesystem::create_directories(second);
  WriteScript(second / "grove-pp-moved", "echo second", 0755);
  ScopedPath path(first.string() + ":" + second.string());
  ChildOptions opts;
  opts.argv = {"grove-pp-moved"};
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.output, "second\n");
  // Within the second the path is remembered: the spawn of the remembered path fails, and the
  // child is started by a fresh search instead of failing.
  std::filesystem::remove(second / "grove-pp-moved");
  WriteScript(first / "grove-pp-moved", "echo first", 0755);
  out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->error, "");
  EXPECT_EQ(out.output, "first\n");
  std::filesystem::remove(first / "grove-pp-moved");
  out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.exit->error, "cannot run 'grove-pp-moved': No such file or directory");
}

TEST(ChildProcessTest, ArgvZeroIsKeptAsGivenWhenFoundOnPath) {
  // The program is spawned by its full path; what it sees as its name is still the one given.
  ChildOptions opts;
  opts.argv = {"sh", "-c", "echo $0"};
  auto out = RunToExit(opts);
  ASSERT_TRUE(out.exit);
  EXPECT_EQ(out.output, "sh\n");
}

TEST(ChildProcessTest, ManyShortProcessesLeakNoDescriptors) {
  int before = CountOpenFds();
  for (int i = 0; i < 200; ++i) {
    ChildOptions opts;
    opts.argv = {i % 20 == 0 ? "grove-no-such-program" : "true"};
    auto out = RunToExit(opts, 10s);
    ASSERT_TRUE(out.exit);
  }
  EXPECT_EQ(CountOpenFds(), before);
}

// A spawn that blocks: the child's stdin is a FIFO that nobody has opened for writing yet, so
// posix_spawn's open of it (in the vfork child, before exec) waits. Opens the FIFO for writing
// from another thread after |delay| unless |opened| says the io thread did it first.
class BlockedSpawn {
 public:
  BlockedSpawn(const std::filesystem::path& dir, std::chrono::milliseconds delay)
      : fifo_((dir / "stdin").string()) {
    EXPECT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
    watchdog_ = std::thread([this, delay] {
      std::this_thread::sleep_for(delay);
      if (!opened.exchange(true)) Open();
    });
  }
  ~BlockedSpawn() { watchdog_.join(); }
  ChildOptions Cat() const {
    ChildOptions opts;
    opts.argv = {"cat"};
    opts.stdin_file = fifo_;
    return opts;
  }
  // Writes "hello" into the FIFO (unblocking the spawn) and closes it: cat prints it and exits.
  void Open() {
    int fd = ::open(fifo_.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::write(fd, "hello", 5), 5);
    ::close(fd);
  }
  std::atomic<bool> opened{false};

 private:
  std::string fifo_;
  std::thread watchdog_;
};

// The worker's io thread reads jobs, sends events and reaps exits: a spawn (posix_spawn blocks
// its caller until the child has exec'ed) must not stop it.
TEST(ChildProcessTest, TheIoThreadRunsWhileAChildIsBeingSpawned) {
  TempDir tmp;
  BlockedSpawn blocked(tmp.path(), 5000ms);
  asio::io_context io;
  std::string output;
  std::optional<ChildExit> exit;
  bool io_opened = false;
  auto child = ChildProcess::Start(
      io, blocked.Cat(), [&](std::string_view chunk) { output.append(chunk); },
      [&](const ChildExit& e) { exit = e; });
  // Runs only if Start() returned while the spawn still waits for the FIFO's writer.
  asio::post(io, [&] {
    if (!blocked.opened.exchange(true)) {
      io_opened = true;
      blocked.Open();
    }
  });
  io.run_for(20s);
  EXPECT_TRUE(io_opened) << "the io thread was blocked in the spawn until the watchdog opened it";
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(output, "hello");
}

TEST(ChildProcessTest, CancelledWhileBeingSpawnedItIsKilledOnceStarted) {
  TempDir tmp;
  BlockedSpawn blocked(tmp.path(), 300ms);
  asio::io_context io;
  std::optional<ChildExit> exit;
  ChildOptions opts = blocked.Cat();
  opts.argv = {"/bin/sh", "-c", "cat; sleep 30"};
  auto child = ChildProcess::Start(
      io, opts, [](std::string_view) {}, [&](const ChildExit& e) { exit = e; });
  child->Cancel();
  const auto start = Clock::now();
  io.run_for(20s);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->cancelled);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(ChildProcessTest, DestroyedWhileBeingSpawnedItsChildIsKilledAndReaped) {
  TempDir tmp;
  BlockedSpawn blocked(tmp.path(), 300ms);
  asio::io_context io;
  bool called = false;
  ChildOptions opts = blocked.Cat();
  opts.argv = {"sleep", "300"};
  auto child = ChildProcess::Start(
      io, opts, [](std::string_view) {}, [&](const ChildExit&) { called = true; });
  child.reset();  // waits for the spawn (the watchdog lets it through), then kills and reaps
  io.run_for(300ms);
  EXPECT_FALSE(called);
  // No child of this process is left, running or a zombie.
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcessTest, SequentialSpawnRate) {
  asio::io_context io;
  ChildOptions opts;
  opts.argv = {"true"};
  int done = 0;
  auto start = Clock::now();
  while (Clock::now() - start < 1s) {
    bool exited = false;
    auto child = ChildProcess::Start(
        io, opts, [](std::string_view) {},
        [&](const ChildExit& e) {
          exited = true;
          EXPECT_EQ(e.exit_code, 0);
        });
    io.restart();  // run_one() stopped the context when the last child left it without work
    while (!exited) io.run_one();
    ++done;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double rate = done / seconds;
  std::printf("spawn+wait of `true`: %.0f/s (%d in %.2fs)\n", rate, done, seconds);
  RecordProperty("spawns_per_second", static_cast<int>(rate));
  EXPECT_GT(rate, 20);
}

}  // namespace
}  // namespace grove
