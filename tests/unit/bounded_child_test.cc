// The master's children (git): no descriptor of ours inherited, a time bound of their own, and
// clear errors. Their death with the master is tested on real processes in
// tests/integration/test_os_resources.py.
#include "master/bounded_child.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "master/git_poller.h"

extern char** environ;

namespace grove {
namespace {

std::vector<std::string> Environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  return env;
}

// Reads |fd| to its end.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

TEST(BoundedChildTest, InheritsNoDescriptorEvenWithoutCloexec) {
  // A descriptor opened the careless way, as a library might.
  int stray = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 3);
  BoundedCommand cmd;
  cmd.argv = {"sh", "-c", "ls /proc/$$/fd"};
  cmd.env = Environment();
  BoundedChild child;
  Status st = StartBounded(cmd, &child);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string out = ReadAll(child.out.get());
  int status = Reap(child.pid);
  ::close(stray);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The shell's own descriptors: stdin, stdout, stderr (ls opens its directory in its own
  // process, not in the shell's).
  EXPECT_EQ(out, "0\n1\n2\n");
}

TEST(BoundedChildTest, TheChildKeepsItsOwnTimeLimit) {
  BoundedCommand cmd;
  cmd.argv = {"sleep", "60"};
  cmd.env = Environment();
  cmd.limit_s = 1;
  BoundedChild child;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(StartBounded(cmd, &child).ok());
  ASSERT_TRUE(child.bounded_by_timeout);  // coreutils is installed wherever Grove is tested
  int status = Reap(child.pid);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kBoundedTimedOutExit);
}

TEST(BoundedChildTest, ErrorsNameTheProblem) {
  BoundedCommand cmd;
  cmd.argv = {"no-such-program-grove"};
  cmd.env = Environment();
  BoundedChild child;
  Status st = StartBounded(cmd, &child);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "cannot run no-such-program-grove: No such file or directory (not in PATH)");

  cmd.argv = {"true"};
  cmd.cwd = "/no/such/dir";
  st = StartBounded(cmd, &child);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "cannot run true in /no/such/dir: No such file or directory");
}

TEST(BoundedChildTest, RunGitReportsFailures) {
  std::string out;
  Status st = RunGit({"--version"}, "", 30, &out);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(out.rfind("git version", 0), 0u) << out;

  st = RunGit({"rev-parse", "HEAD"}, "/", 30, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("git rev-parse failed: fatal: not a git repository"),
            std::string::npos)
      << st.message();
}

// A git:// "server" that takes connections (the kernel does) and never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
    url_ = "git://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/repo.git";
  }
  ~SilentServer() { ::close(fd_); }
  const std::string& url() const { return url_; }

 private:
  int fd_ = -1;
  std::string url_;
};

TEST(BoundedChildTest, RunGitTimesOut) {
  SilentServer server;
  auto start = std::chrono::steady_clock::now();
  std::string out;
  Status st = RunGit({"ls-remote", server.url()}, "", 1, &out);
  EXPECT_EQ(st.message(), "git ls-remote timed out after 1s");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(BoundedChildTest, RunGitStopsWhenCancelled) {
  SilentServer server;
  std::atomic<bool> cancel{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  std::string out;
  Status st = RunGit({"ls-remote", server.url()}, "", 60, &out, &cancel);
  stopper.join();
  EXPECT_EQ(st.message(), "git ls-remote stopped: the poller is stopping");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace grove
