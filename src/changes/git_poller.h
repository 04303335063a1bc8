// GitPoller: the git change source. One thread (never the network loop: git is blocking work)
// polls every configured repository on its own interval with the git command line:
//   git fetch --prune URL +refs/heads/*:refs/heads/*   into a bare mirror under state/git/
// then compares the branch heads with those it stored. The first poll of a repository only
// records its heads; after that each commit new on a branch becomes a change (newest last),
// found with `git rev-list NEW ^OLD`, so a force-push yields only the commits that were not on
// the branch before, never a replay of old history. Heads are stored (scheduler_state
// "git:URL") in the transaction that records the changes, so a restart neither loses nor
// repeats commits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "store/store.h"

namespace grove {

class Schedulers;

// Runs git with |args| (no shell) in |cwd| and returns its stdout; fails on a non-zero exit
// or after |timeout_s|, a bound git's process group keeps even if the master dies (see
// bounded_child.h). Stops git early once |*cancel| becomes true.
Status RunGit(const std::vector<std::string>& args, const std::string& cwd, int timeout_s,
              std::string* out, const std::atomic<bool>* cancel = nullptr);

// One poll of |source|: fetches into |mirror_dir|, compares with |known_heads| (branch →
// revision) and returns the new heads and changes. |first| (nothing stored yet): heads only.
Status PollGitOnce(const GitSourceConfig& source, const std::string& mirror_dir,
                   const Json& known_heads, bool first, Json* heads,
                   std::vector<ChangeRecord>* changes, const std::atomic<bool>* cancel = nullptr);

class GitPoller {
 public:
  GitPoller(Schedulers& schedulers, std::string state_dir);
  ~GitPoller();
  GitPoller(const GitPoller&) = delete;
  GitPoller& operator=(const GitPoller&) = delete;

  // Starts polling the sources of |config| (those with poll > 0).
  void Start(const Config& config);
  // Polls the sources of |config| from now on; never blocks on a poll in progress.
  void Reconfigure(const Config& config);
  void Stop();
  // From any thread: whether this master holds the git poller's lease (several masters,
  // cluster/cluster.h). Repositories are polled only while it is held; on gaining it each
  // repository's heads are read again from the store, where another master may have moved them.
  // Held from the start unless SetActive(false) is called before Start.
  void SetActive(bool active);

 private:
  void Run();

  std::vector<GitSourceConfig> fresh_sources_;  // handed to the thread by Start/Reconfigure
  bool fresh_ = false;
  bool active_ = true;           // under mu_
  bool active_changed_ = false;  // under mu_: wakes the thread

  Schedulers& schedulers_;
  std::string state_dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};  // read by a git run in progress without the lock
  std::thread thread_;
};

}  // namespace grove
