#include "worker/amqp_agent.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "broker/amqp_connection.h"
#include "broker/amqp_publisher.h"
#include "broker/amqp_topology.h"
#include "core/log.h"
#include "worker/build_dirs.h"
#include "worker/job_runner.h"

namespace grove {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace amqp;

namespace {

constexpr auto kHelloEvery = std::chrono::seconds(3);

std::string NewInstanceId() {
  std::random_device rd;
  return std::to_string(getpid()) + "-" + std::to_string(rd()) + std::to_string(rd());
}

using Key = std::pair<int64_t, int>;

class AmqpAgent : public EventSink {
 public:
  AmqpAgent(asio::io_context& io, const AmqpWorkerOptions& opts, AmqpUrl url)
      : io_(io),
        opts_(opts),
        url_(std::move(url)),
        queues_(QueuesForWorker(opts.tags)),
        instance_(NewInstanceId()),
        publisher_(url_, [this](AmqpConnection& c) { return DeclareTopology(c, queues_); }),
        hello_timer_(io) {}

  Status Start() {
    // Fail fast on a wrong URL or password; then the threads reconnect on their own.
    std::unique_ptr<AmqpConnection> c;
    GROVE_RETURN_IF_ERROR(AmqpConnection::Open(url_, 30, &c));
    GROVE_RETURN_IF_ERROR(DeclareTopology(*c, queues_));
    c.reset();
    publisher_.Start();
    consumer_ = std::thread([this] { RunConsumer(); });
    SayHello();
    return Status::Ok();
  }

  void Shutdown() {
    stopping_ = true;
    for (auto& [key, r] : runners_) r->Cancel();
    WaitDrained(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }

  void Join() {
    stop_consumer_ = true;
    if (consumer_.joinable()) consumer_.join();
    publisher_.Stop();
  }

  // EventSink, on the io thread.
  void Emit(Json ev) override {
    ev["id"] = next_id_++;
    ev["worker"] = opts_.name;
    const std::string type = ev.value("type", "");
    std::function<void()> on_confirmed;
    if (type == "job.finished") {
      Key key{ev.value("request", int64_t{0}), ev.value("attempt", 0)};
      auto it = tags_.find(key);
      if (it != tags_.end()) {
        uint64_t tag = it->second.first;
        uint64_t generation = it->second.second;
        tags_.erase(it);
        // The job message is acknowledged only once job.finished is safe in the broker.
        on_confirmed = [this, tag, generation] { QueueSettle(tag, generation, true); };
      }
    }
    publisher_.Publish(
        {kEventsExchange, opts_.name + "." + type, ev.dump(), std::move(on_confirmed)});
  }
  bool Congested() const override { return publisher_.pending() > 20000; }

 private:
  struct Settle {
    uint64_t tag;
    uint64_t generation;  // the consumer connection the tag belongs to
    bool ack;             // false: reject to the dead-letter queue
  };

  void QueueSettle(uint64_t tag, uint64_t generation, bool ack) {
    std::lock_guard lock(mu_);
    settles_.push_back({tag, generation, ack});
  }

  void SayHello() {
    if (stopping_) return;
    Json running = Json::array();
    for (const auto& [key, r] : runners_)
      running.push_back({{"request", key.first}, {"attempt", key.second}});
    Json hello = {{"type", "hello"},
                  {"v", 1},
                  {"worker", opts_.name},
                  {"secret", opts_.secret},
                  {"instance", instance_},
                  {"capacity", opts_.capacity},
                  {"tags", opts_.tags},
                  {"running", running},
                  {"version", "grove-worker/amqp"}};
    publisher_.Publish({kEventsExchange, opts_.name + ".hello", hello.dump(), nullptr});
    hello_timer_.expires_after(kHelloEvery);
    hello_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) SayHello();
    });
  }

  // On the io thread: a delivery from a job queue.
  void OnJob(const std::string& body, uint64_t tag, uint64_t generation) {
    Json msg = Json::parse(body, nullptr, false);
    JobSpec job;
    Status st = msg.is_discarded() ? Status::Invalid("not JSON") : JobFromJson(msg, &job);
    if (!st.ok()) {
      spdlog::error("job message refused ({}); dead-lettered", st.message());
      return QueueSettle(tag, generation, false);
    }
    Key key{job.request_id, job.attempt};
    if (runners_.count(key)) {
      // Delivered again while it runs (our connection to the broker broke and RabbitMQ put the
      // message back): the running job reports, and this delivery is the one to acknowledge
      // when it finishes (the old delivery tag died with the old connection).
      tags_[key] = {tag, generation};
      return;
    }
    if (stopping_) return;  // unacknowledged: RabbitMQ gives it to another worker
    job.master_url = opts_.master_url;
    job.consumers = opts_.consumers;
    std::string dir = dirs_.Acquire(job.builder);
    spdlog::info("job {}.{}: builder {} in {}", job.request_id, job.attempt, job.builder, dir);
    tags_[key] = {tag, generation};
    auto runner = std::make_unique<JobRunner>(
        io_, std::move(job), dir, *this, [this, key](JobRunner& r, Result res) {
          spdlog::info("job {}.{}: {}", key.first, key.second, ResultName(res));
          dirs_.Release(r.builddir());
          // Destroyed later: this callback runs inside the runner.
          asio::post(io_, [this, key] { runners_.erase(key); });
        });
    JobRunner* raw = runner.get();
    raw->set_master_url(opts_.master_url);
    runners_[key] = std::move(runner);
    raw->Start();
  }

  void OnControl(const std::string& body) {
    Json msg = Json::parse(body, nullptr, false);
    if (msg.is_discarded() || msg.value("type", "") != "cancel") return;
    auto it = runners_.find({msg.value("request", int64_t{0}), msg.value("attempt", 0)});
    if (it == runners_.end()) return;
    spdlog::info("job {}.{}: cancelled by the master", it->first.first, it->first.second);
    it->second->Cancel();
  }

  void WaitDrained(std::chrono::steady_clock::time_point deadline) {
    bool settled;
    {
      std::lock_guard lock(mu_);
      settled = settles_.empty();
    }
    if ((runners_.empty() && publisher_.pending() == 0 && settled) ||
        std::chrono::steady_clock::now() > deadline) {
      hello_timer_.cancel();
      io_.stop();
      return;
    }
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
    t->async_wait([this, t, deadline](const boost::system::error_code&) { WaitDrained(deadline); });
  }

  // The consumer thread: one connection for jobs (prefetch = capacity, shared by the queues of
  // every tag subset) and one for this worker's control queue, so a cancel is never held back
  // by the prefetch limit.
  void RunConsumer() {
    int backoff_ms = 200;
    while (!stop_consumer_) {
      ++generation_;
      Status st = ConsumeOnce();
      if (stop_consumer_) break;
      spdlog::warn("AMQP consumer: {}; reconnecting in {} ms", st.message(), backoff_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
    }
  }

  Status ConsumeOnce() {
    const uint64_t gen = generation_;
    std::unique_ptr<AmqpConnection> jobs, control;
    GROVE_RETURN_IF_ERROR(AmqpConnection::Open(url_, 30, &jobs));
    GROVE_RETURN_IF_ERROR(DeclareTopology(*jobs, queues_));
    GROVE_RETURN_IF_ERROR(jobs->SharedPrefetch(opts_.capacity));
    for (const auto& q : queues_) GROVE_RETURN_IF_ERROR(jobs->Consume(q, 0));
    GROVE_RETURN_IF_ERROR(AmqpConnection::Open(url_, 30, &control));
    QueueOptions cq;
    cq.durable = false;
    const std::string cqueue = ControlQueueFor(opts_.name);
    GROVE_RETURN_IF_ERROR(control->DeclareExchange(kControlExchange, "direct"));
    GROVE_RETURN_IF_ERROR(control->DeclareQueue(cqueue, cq));
    GROVE_RETURN_IF_ERROR(control->Bind(cqueue, kControlExchange, opts_.name));
    GROVE_RETURN_IF_ERROR(control->Consume(cqueue, 100));
    spdlog::info("worker {}: consuming {} job queue(s) from {} (prefetch {})", opts_.name,
                 queues_.size(), url_.Redacted(), opts_.capacity);
    while (true) {
      std::vector<Settle> settles;
      {
        std::lock_guard lock(mu_);
        settles.swap(settles_);
      }
      for (const auto& s : settles) {
        if (s.generation != gen) continue;  // that delivery was on a closed connection
        GROVE_RETURN_IF_ERROR(s.ack ? jobs->Ack(s.tag) : jobs->Reject(s.tag, false));
      }
      if (stop_consumer_) return Status::Ok();
      Delivery d;
      bool got = false;
      GROVE_RETURN_IF_ERROR(jobs->Next(20, &d, &got));
      if (got)
        asio::post(io_,
                   [this, body = std::move(d.body), tag = d.tag, gen] { OnJob(body, tag, gen); });
      GROVE_RETURN_IF_ERROR(control->Next(got ? 0 : 20, &d, &got));
      if (got) {
        GROVE_RETURN_IF_ERROR(control->Ack(d.tag));
        asio::post(io_, [this, body = std::move(d.body)] { OnControl(body); });
      }
    }
  }

  asio::io_context& io_;
  AmqpWorkerOptions opts_;
  AmqpUrl url_;
  std::vector<std::string> queues_;
  std::string instance_;
  AmqpPublisher publisher_;
  asio::steady_timer hello_timer_;
  std::thread consumer_;
  std::atomic<bool> stop_consumer_{false};
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  std::vector<Settle> settles_;
  // io thread only
  std::map<Key, std::unique_ptr<JobRunner>> runners_;
  std::map<Key, std::pair<uint64_t, uint64_t>> tags_;  // job → (delivery tag, generation)
  BuildDirs dirs_{opts_.workdir};
  int64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace

Status RunAmqpWorker(const AmqpWorkerOptions& opts) {
  AmqpUrl url;
  GROVE_RETURN_IF_ERROR(AmqpUrl::Parse(opts.broker_url, &url));
  std::error_code ec;
  fs::create_directories(opts.workdir, ec);
  if (ec)
    return Status::IoError("cannot create work directory " + opts.workdir + ": " + ec.message());
  asio::io_context io(1);
  AmqpAgent agent(io, opts, url);
  GROVE_RETURN_IF_ERROR(agent.Start());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int sig) {
    if (e) return;
    spdlog::info("signal {}: cancelling running jobs and stopping", sig);
    agent.Shutdown();
  });
  spdlog::info("worker {} starting; broker {}, work directory {}", opts.name, url.Redacted(),
               fs::absolute(opts.workdir).string());
  io.run();
  agent.Join();
  return Status::Ok();
}

}  // namespace grove
