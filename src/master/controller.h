// Controller: the master's decisions, all taken on the core loop's thread.
//
// It accepts workers, turns queued requests into jobs for workers that fit (the dispatcher),
// turns workers' events into stored builds, steps and logs (the tracker), and notices workers
// that vanish: their jobs are given a grace period to come back with a reconnect, then their
// builds are marked "retry" and their requests queued again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "broker/broker.h"
#include "config/config.h"
#include "master/core_loop.h"
#include "master/job_queue.h"
#include "master/worker_registry.h"

namespace boost::asio {
class io_context;
}

namespace grove {

struct ControllerOptions {
  // How long the jobs of a disconnected worker wait for it to reconnect before they are
  // re-queued; also how long after a master start its workers have to come back.
  std::chrono::milliseconds worker_grace{5000};
  int max_attempts = 5;  // a request lost this many times is finished as an exception
};

struct ForceArgs {
  std::string builder;
  std::string reason;
  Json properties = Json::object();
};

class Controller : public BrokerListener {
 public:
  Controller(CoreLoop& core, boost::asio::io_context& net, std::shared_ptr<const Config> config,
             ControllerOptions opts);
  ~Controller() override;

  void SetBroker(Broker* broker) { broker_ = broker; }
  // Loads the queue and the jobs that were running when the master stopped.
  void Recover();
  void Reconfigure(std::shared_ptr<const Config> config);

  // BrokerListener: called on the network thread, handled on the core loop.
  void OnHello(ConnId conn, WorkerHello hello, std::function<void(Status)> reply) override;
  void OnMessages(ConnId conn, const std::string& worker, std::vector<Json> msgs) override;
  void OnClosed(ConnId conn, const std::string& worker) override;

  // Queues a build request; |done| receives the request id once it is durable.
  void Force(ForceArgs args, std::function<void(Status, int64_t)> done);
  // The workers as the API shows them.
  void DescribeWorkers(std::function<void(Json)> done);
  // Queue length and running jobs, for the home page and `grove status`.
  void DescribeQueue(std::function<void(Json)> done);

 private:
  struct ActiveJob {
    std::string worker;
    std::string builder;
    int64_t build_id = 0;
  };
  struct Orphan {
    std::string worker;
    int64_t deadline = 0;
  };

  void Dispatch(Txn& txn);
  void HandleEvent(Txn& txn, ConnectedWorker& w, const Json& ev);
  int64_t EnsureBuild(Txn& txn, const JobKey& key, ActiveJob& job, const std::string& worker);
  void FinishJob(Txn& txn, const JobKey& key, Result result);
  // The job's worker is gone for good: its build becomes "retry", its request queued again.
  void LoseJob(Txn& txn, const JobKey& key, const std::string& why);
  void ReapOrphans(Txn& txn);
  void ScheduleReap(std::chrono::milliseconds delay);
  void SendCancel(ConnId conn, const JobKey& key);

  CoreLoop& core_;
  boost::asio::io_context& net_;
  std::shared_ptr<const Config> config_;
  ControllerOptions opts_;
  Broker* broker_ = nullptr;

  WorkerRegistry workers_;
  JobQueue queue_;
  std::map<JobKey, ActiveJob> active_;
  std::map<JobKey, Orphan> orphans_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace grove
