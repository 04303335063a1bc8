#include "changes/git_poller.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "changes/bounded_child.h"
#include "core/clock.h"
#include "core/log.h"
#include "schedulers/schedulers.h"

extern char** environ;

namespace grove {

namespace fs = std::filesystem;

namespace {

constexpr int kGitTimeoutS = 300;
constexpr int kMaxCommitsPerBranch = 100;

std::string MirrorName(const std::string& url) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs and builds
  for (unsigned char c : url) h = (h ^ c) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx.git", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

Status DescribeCommit(const std::string& mirror, const std::string& sha, ChangeRecord* c,
                      const std::atomic<bool>* cancel) {
  std::string out;
  GROVE_RETURN_IF_ERROR(RunGit({"show", "-s", "--format=%H%x00%an <%ae>%x00%ct%x00%B", sha}, mirror,
                               60, &out, cancel));
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t nul = out.find('\0', start);
    if (nul == std::string::npos) return Status::IoError("unexpected git show output for " + sha);
    parts.push_back(out.substr(start, nul - start));
    start = nul + 1;
  }
  std::string message = out.substr(start);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  c->revision = parts[0];
  c->author = parts[1];
  c->committed_at = std::atoll(parts[2].c_str()) * 1000;
  c->comments = message;
  std::string files;
  GROVE_RETURN_IF_ERROR(RunGit({"diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha},
                               mirror, 60, &files, cancel));
  c->files = Lines(files);
  return Status::Ok();
}

}  // namespace

Status RunGit(const std::vector<std::string>& args, const std::string& cwd, int timeout_s,
              std::string* out, const std::atomic<bool>* cancel) {
  out->clear();
  BoundedCommand cmd;
  cmd.argv = {"git"};
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.cwd = cwd;
  cmd.limit_s = timeout_s;
  // Never wait for a password on a terminal; never pick up a user's pager or editor.
  cmd.env = {"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "LC_ALL=C"};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GIT_TERMINAL_PROMPT=", 20) != 0 && std::strncmp(*e, "LC_ALL=", 7) != 0 &&
        std::strncmp(*e, "GIT_ASKPASS=", 12) != 0 && std::strncmp(*e, "GIT_DIR=", 8) != 0)
      cmd.env.push_back(*e);
  BoundedChild child;
  GROVE_RETURN_IF_ERROR(StartBounded(cmd, &child));
  const pid_t pid = child.pid;

  std::string err;
  // The child's own bound (`timeout`) ends it first; this one is the backstop.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s + kBoundedKillAfterS + 10);
  bool timed_out = false;
  bool cancelled = false;
  pollfd fds[2] = {{child.out.get(), POLLIN, 0}, {child.err.get(), POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (cancel && !cancelled && cancel->load()) {
      // SIGTERM lets git remove its lock files; the group's own bound SIGKILLs what remains.
      cancelled = true;
      kill(-pid, SIGTERM);
    }
    int n = poll(fds, 2, static_cast<int>(std::min<int64_t>(left, cancel ? 200 : 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? *out : err).append(buf, static_cast<size_t>(got));
        if (err.size() > 65536) err.erase(0, err.size() - 65536);
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  child.out.reset();
  child.err.reset();
  // Wait without reaping first: while the leader is a zombie its pid cannot name another
  // group, so the kill below reaches only what this child left behind (a stray helper).
  siginfo_t info{};
  while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (cancelled) return Status::Unavailable("git " + args[0] + " stopped: the poller is stopping");
  if (timed_out || (child.bounded_by_timeout && WIFEXITED(status) &&
                    WEXITSTATUS(status) == kBoundedTimedOutExit))
    return Status::Unavailable("git " + args[0] + " timed out after " + std::to_string(timeout_s) +
                               "s");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    size_t nl = err.rfind('\n');
    std::string last = nl == std::string::npos ? err : err.substr(nl + 1);
    if (last.empty() && WIFSIGNALED(status))
      last = "killed by signal " + std::to_string(WTERMSIG(status));
    return Status::IoError("git " + args[0] + " failed: " + last);
  }
  return Status::Ok();
}

Status PollGitOnce(const GitSourceConfig& source, const std::string& mirror_dir,
                   const Json& known_heads, bool first, Json* heads,
                   std::vector<ChangeRecord>* changes, const std::atomic<bool>* cancel) {
  std::error_code ec;
  if (!fs::exists(fs::path(mirror_dir) / "HEAD", ec)) {
    fs::create_directories(mirror_dir, ec);
    std::string ignored;
    GROVE_RETURN_IF_ERROR(
        RunGit({"init", "--quiet", "--bare", mirror_dir}, "", 60, &ignored, cancel));
  }
  std::string out;
  GROVE_RETURN_IF_ERROR(RunGit({"fetch", "--quiet", "--prune", "--no-tags", "--force", source.url,
                                "+refs/heads/*:refs/heads/*"},
                               mirror_dir, kGitTimeoutS, &out, cancel));
  GROVE_RETURN_IF_ERROR(
      RunGit({"for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/heads/"},
             mirror_dir, 60, &out, cancel));
  *heads = Json::object();
  for (const std::string& line : Lines(out)) {
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string branch = line.substr(sp + 1);
    if (BranchMatches(source.branches, branch)) (*heads)[branch] = line.substr(0, sp);
  }
  changes->clear();
  if (first) return Status::Ok();
  for (auto& [branch, value] : heads->items()) {
    std::string head = value.get<std::string>();
    std::string old = known_heads.value(branch, "");
    if (old == head) continue;
    std::vector<std::string> args = {"rev-list", "--reverse",
                                     "--max-count=" + std::to_string(kMaxCommitsPerBranch), head};
    if (!old.empty()) {
      args.push_back("^" + old);
    } else {
      // A new branch: only the commits no known branch had.
      for (auto& [b, v] : known_heads.items())
        if (v.is_string()) args.push_back("^" + v.get<std::string>());
    }
    std::vector<std::string> revs;
    if (RunGit(args, mirror_dir, 60, &out, cancel).ok())
      revs = Lines(out);
    else
      revs = {head};  // the old head is gone from the mirror: report the new head alone
    for (const std::string& rev : revs) {
      ChangeRecord c;
      c.source = "git:" + source.url;
      c.repository = source.url;
      c.branch = branch;
      GROVE_RETURN_IF_ERROR(DescribeCommit(mirror_dir, rev, &c, cancel));
      changes->push_back(std::move(c));
    }
  }
  return Status::Ok();
}

GitPoller::GitPoller(Schedulers& schedulers, std::string state_dir)
    : schedulers_(schedulers), state_dir_(std::move(state_dir)) {}

GitPoller::~GitPoller() {
  Stop();
}

namespace {
std::vector<GitSourceConfig> PolledSources(const Config& config) {
  std::vector<GitSourceConfig> sources;
  for (const GitSourceConfig& g : config.git_sources)
    if (g.poll_s > 0) sources.push_back(g);
  return sources;
}
}  // namespace

void GitPoller::Start(const Config& config) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh_sources_ = PolledSources(config);
    fresh_ = true;
    stopping_ = false;
    cancel_ = false;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void GitPoller::Reconfigure(const Config& config) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh_sources_ = PolledSources(config);
    fresh_ = true;
  }
  cv_.notify_all();
}

void GitPoller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cancel_ = true;  // a fetch in progress stops now instead of at its time limit
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GitPoller::SetActive(bool active) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_ == active) return;
    active_ = active;
    active_changed_ = true;
  }
  cv_.notify_all();
}

void GitPoller::Run() {
  struct Entry {
    GitSourceConfig source;
    std::string mirror;
    Json heads;
    bool loaded = false;
    bool first = true;
    std::chrono::steady_clock::time_point due;
  };
  std::vector<Entry> entries;
  // Takes the sources handed over by Start/Reconfigure, keeping what is known of old ones.
  auto refresh = [&] {
    std::vector<GitSourceConfig> sources;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fresh_) return;
      sources = std::move(fresh_sources_);
      fresh_ = false;
    }
    std::vector<Entry> next;
    for (GitSourceConfig& s : sources) {
      Entry e;
      for (Entry& old : entries)
        if (old.source.url == s.url) e = std::move(old);
      if (e.source.url.empty()) {
        e.mirror = (fs::path(state_dir_) / "git" / MirrorName(s.url)).string();
        e.due = std::chrono::steady_clock::now();
      }
      e.source = std::move(s);
      next.push_back(std::move(e));
    }
    entries = std::move(next);
  };
  // Waits for the core loop's answer, or gives up when the poller is stopped.
  auto wait = [this](auto& future) {
    while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return false;
    }
    return true;
  };
  for (;;) {
    refresh();
    bool active = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      active = active_;
      active_changed_ = false;
    }
    if (!active) {
      // Another master polls; when this one polls again, it starts from the stored heads.
      for (Entry& e : entries) {
        e.loaded = false;
        e.due = std::chrono::steady_clock::now();
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || fresh_ || active_changed_; });
      if (stopping_) return;
      continue;
    }
    auto next = std::chrono::steady_clock::time_point::max();
    for (Entry& e : entries) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      if (e.due <= std::chrono::steady_clock::now()) {
        const std::string key = "git:" + e.source.url;
        if (!e.loaded) {
          auto promise = std::make_shared<std::promise<Json>>();
          auto future = promise->get_future();
          schedulers_.LoadState(key, [promise](Json j) { promise->set_value(std::move(j)); });
          if (!wait(future)) return;
          Json state = future.get();
          e.first = !state.contains("heads");
          e.heads = state.value("heads", Json::object());
          e.loaded = true;
        }
        Json heads;
        std::vector<ChangeRecord> changes;
        Status st = PollGitOnce(e.source, e.mirror, e.heads, e.first, &heads, &changes, &cancel_);
        if (cancel_.load()) return;
        if (!st.ok()) {
          spdlog::warn("git poller {}: {}", e.source.url, st.message());
        } else if (e.first || heads != e.heads) {
          size_t n = changes.size();
          auto promise = std::make_shared<std::promise<Status>>();
          auto future = promise->get_future();
          schedulers_.AddChanges(std::move(changes), key, Json{{"heads", heads}},
                                 [promise](Status s) { promise->set_value(s); });
          if (!wait(future)) return;
          Status stored = future.get();
          if (stored.ok()) {
            if (e.first)
              spdlog::info("git poller {}: first poll, {} branch heads recorded", e.source.url,
                           heads.size());
            else
              spdlog::info("git poller {}: {} new changes", e.source.url, n);
            e.heads = heads;
            e.first = false;
          } else {
            spdlog::error("git poller {}: cannot store changes: {}", e.source.url,
                          stored.message());
          }
        }
        e.due = std::chrono::steady_clock::now() + std::chrono::seconds(e.source.poll_s);
      }
      next = std::min(next, e.due);
    }
    next = std::min(next, std::chrono::steady_clock::now() + std::chrono::hours(1));
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, next, [this] { return stopping_ || fresh_ || active_changed_; });
    if (stopping_) return;
  }
}

}  // namespace grove
