#include "worker/agent.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "core/log.h"
#include "worker/build_dirs.h"
#include "worker/job_runner.h"
#include "worker/master_link.h"
#include "worker/path_utf8.h"

namespace grove {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

class Agent : public LinkHandler {
 public:
  Agent(asio::io_context& io, const WorkerOptions& opts) : io_(io), opts_(opts) {
    LinkOptions lo;
    lo.master_url = opts.master_url;
    lo.master_urls = opts.master_urls;
    lo.name = opts.name;
    lo.secret = opts.secret;
    lo.capacity = opts.capacity;
    link_ = std::make_unique<MasterLink>(io, lo, *this);
  }

  void Start() { link_->Start(); }

  // Stops what runs and hands it back (job.finished "retry": the master runs it again as the
  // next attempt), then gives the link a moment to deliver the last events.
  void Shutdown() {
    stopping_ = true;
    for (auto& [key, runner] : runners_) runner->Cancel(Result::kRetry);
    WaitDrained(std::chrono::steady_clock::now() + std::chrono::seconds(3));
  }

  const Status& status() const { return status_; }

  Json RunningJobs() override {
    Json out = Json::array();
    for (const auto& [key, runner] : runners_)
      out.push_back({{"request", key.first}, {"attempt", key.second}});
    return out;
  }

  void OnJob(const Json& msg) override {
    JobSpec job;
    Status st = JobFromJson(msg, &job);
    if (!st.ok()) return spdlog::error("job refused: {}", st.message());
    // Trigger steps call the API of the master the job came through.
    job.master_url = link_->CurrentUrl();
    job.consumers = opts_.consumers;
    std::pair<int64_t, int> key{job.request_id, job.attempt};
    if (runners_.count(key) || stopping_) return;  // already running (a resend), or leaving
    std::string dir = dirs_.Acquire(job.builder);
    spdlog::info("job {}.{}: builder {} in {}", job.request_id, job.attempt, job.builder, dir);
    auto runner =
        std::make_unique<JobRunner>(io_, std::move(job), dir, *link_,
                                    [this, key](JobRunner& r, Result res) { Done(key, r, res); });
    JobRunner* raw = runner.get();
    raw->set_master_url(link_->CurrentUrl());
    raw->set_in_process_consumers(opts_.in_process.get());
    runners_[key] = std::move(runner);
    raw->Start();
  }

  void OnCancel(int64_t request, int attempt) override {
    auto it = runners_.find({request, attempt});
    if (it == runners_.end()) return;
    spdlog::info("job {}.{}: cancelled by the master", request, attempt);
    it->second->Cancel();
  }

  void OnDrained() override {
    for (auto& [key, runner] : runners_) runner->ResumeOutput();
  }

  void OnRefused(const std::string& why) override {
    status_ = Status::Unauthorized("master refused this worker: " + why);
    link_->Stop();
    io_.stop();
  }

 private:
  void Done(std::pair<int64_t, int> key, JobRunner& runner, Result result) {
    spdlog::info("job {}.{}: {}", key.first, key.second, ResultName(result));
    dirs_.Release(runner.builddir());
    runners_.erase(key);
  }

  void WaitDrained(std::chrono::steady_clock::time_point deadline) {
    if ((runners_.empty() && link_->Drained()) || std::chrono::steady_clock::now() > deadline) {
      link_->Stop();
      io_.stop();
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
    timer->async_wait(
        [this, timer, deadline](const boost::system::error_code&) { WaitDrained(deadline); });
  }

  asio::io_context& io_;
  WorkerOptions opts_;
  std::unique_ptr<MasterLink> link_;
  std::map<std::pair<int64_t, int>, std::unique_ptr<JobRunner>> runners_;
  BuildDirs dirs_{opts_.workdir};
  bool stopping_ = false;
  Status status_;
};

}  // namespace

Status RunWorker(const WorkerOptions& opts) {
  std::error_code ec;
  fs::create_directories(Utf8Path(opts.workdir), ec);
  if (ec)
    return Status::IoError("cannot create work directory " + opts.workdir + ": " + ec.message());
  asio::io_context io(1);
  Agent agent(io, opts);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int sig) {
    if (e) return;
    spdlog::info("signal {}: handing running jobs back and stopping", sig);
    agent.Shutdown();
  });
  spdlog::info("worker {} starting; master {}, work directory {}", opts.name, opts.master_url,
               PathUtf8(fs::absolute(Utf8Path(opts.workdir))));
  agent.Start();
  io.run();
  return agent.status();
}

}  // namespace grove
