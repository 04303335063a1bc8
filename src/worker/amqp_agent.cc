#include "worker/amqp_agent.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "broker/amqp_connection.h"
#include "broker/amqp_publisher.h"
#include "broker/amqp_retry.h"
#include "broker/amqp_topology.h"
#include "broker/amqp_wait.h"
#include "core/job_parse.h"
#include "core/json_append.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "worker/build_dirs.h"
#include "worker/in_process_consumers.h"
#include "worker/job_runner.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace amqp;

namespace {

constexpr auto kHelloEvery = std::chrono::seconds(3);

// Events gathered before they go to the publisher (AmqpAgent::Gather): how long the first one
// waits for others, and how many (or how many bytes) go at once.
constexpr auto kGatherWindow = std::chrono::milliseconds(10);
constexpr size_t kGatherMaxEvents = 256;
constexpr size_t kGatherMaxBytes = 256 * 1024;

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
        instance_(NewInstanceId()),
        publisher_(url_, [this](AmqpConnection& c) { return DeclareBase(c); }),
        hello_timer_(io),
        gather_timer_(io) {
    subscription_.tags = opts_.tags;
    subscription_.capacity = opts_.capacity > 0 ? opts_.capacity : 1;
    if (opts_.in_process) opts_.in_process->set_max_threads(subscription_.capacity);
  }

  Status Start() {
    // One attempt now, so that a configuration error (a TLS file, a login or vhost the broker
    // refuses) ends the start with one line; a broker that is down is the threads' business,
    // as when it goes down later.
    std::unique_ptr<AmqpConnection> c;
    Status st = AmqpConnection::Open(url_, 30, &c);
    if (st.ok()) st = DeclareBase(*c);
    c.reset();
    if (!st.ok() && !IsTransient(st)) return st;
    if (!st.ok())
      spdlog::warn("RabbitMQ is not reachable ({}); starting anyway, connecting when it is",
                   st.message());
    if (opts_.tags.empty() || opts_.capacity == 0)
      spdlog::info("worker {}: {} not given: taken from grove.lua once the master accepts it",
                   opts_.name,
                   opts_.tags.empty() && opts_.capacity == 0 ? "--tags and --capacity"
                   : opts_.tags.empty()                      ? "--tags"
                                                             : "--capacity");
    publisher_.Start();
    consumer_ = std::thread([this] { RunConsumer(); });
    SayHello();
    return Status::Ok();
  }

  // Stops what runs and hands it back: job.finished "retry" (the master runs it again as the
  // next attempt), and the job message is acknowledged once that event is confirmed.
  void Shutdown() {
    stopping_ = true;
    draining_ = true;  // the consumer thread cancels its consumers: no new deliveries
    wake_.Notify();
    FlushGathered();  // and from now on every event goes at once
    for (auto& [key, r] : runners_) r->Cancel(Result::kRetry);
    HandBackWaiting();
    WaitDrained(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }

  const Status& status() const { return status_; }

  void Join() {
    stop_consumer_ = true;
    wake_.Notify();
    if (consumer_.joinable()) consumer_.join();
    // So that the master shows this worker gone now rather than after 15 s of silence.
    Json bye = {{"type", "bye"}, {"worker", opts_.name}, {"instance", instance_}};
    publisher_.Publish({kEventsExchange, opts_.name + ".bye", bye.dump(), nullptr});
    publisher_.Stop();
  }

  // EventSink, on the io thread.
  void Emit(Json ev) override {
    const int64_t id = next_id_++;
    const std::string type = StringOr(ev, "type");
    std::function<void()> on_confirmed;
    if (type == event::kJobFinished) {
      Key key{IntOr(ev, "request", 0), static_cast<int>(IntOr(ev, "attempt", 0))};
      auto it = tags_.find(key);
      if (it != tags_.end()) {
        const uint64_t batch = it->second;
        tags_.erase(it);
        // The job message is acknowledged only once the job.finished of each of its jobs is
        // safe in the broker.
        on_confirmed = [this, batch] { JobsDone(batch, 1); };
      }
    }
    // A log chunk goes compressed, alone in a message, as a binary log frame, once a master's
    // welcome said it takes them: an older master would dead-letter it.
    if (master_frames_ && type == event::kLog) {
      AddIdentity(ev, id);
      std::string frame;
      if (EncodeLogEvent(ev, &frame).ok()) {
        FlushGathered();  // the events before it first: the master applies them in id order
        return publisher_.Publish(
            {kEventsExchange, opts_.name + "." + type, std::move(frame), std::move(on_confirmed)});
      }
    }
    // Events gathered here, and those published while the previous batch awaits its confirms,
    // travel together as one JSON array: a message carries many events (docs/protocol.md).
    Gather({kEventsExchange, opts_.name + "." + type, EventText(std::move(ev), id),
            std::move(on_confirmed), opts_.name + ".events"},
           type == event::kJobFinished);
  }
  bool Congested() const override { return publisher_.pending() + gathered_.size() > 20000; }
  bool MergesEvents() const override { return master_merges_; }

 private:
  void AddIdentity(Json& ev, int64_t id) const {
    ev["id"] = id;
    ev["worker"] = opts_.name;
    ev["instance"] = instance_;
  }

  // |ev| with its id, this worker's name and instance, as JSON text: the three written after
  // the event's own fields rather than added to its tree (three tree nodes and their strings
  // allocated and freed per event, a few per cent of an SDK worker's CPU per job).
  std::string EventText(Json ev, int64_t id) {
    std::string text;
    text.reserve(256);
    AppendJson(ev, &text);  // dump()'s text, faster
    if (text.size() <= 2 || text.back() != '}' || ev.contains("id") || ev.contains("worker") ||
        ev.contains("instance")) {
      AddIdentity(ev, id);  // not an event of the job runner's: the tree's way
      text.clear();
      AppendJson(ev, &text);
      return text;
    }
    if (identity_.empty())
      identity_ = ",\"instance\":" + Json(instance_).dump() +
                  ",\"worker\":" + Json(opts_.name).dump() + "}";
    text.back() = ',';
    text += "\"id\":";
    text += std::to_string(id);
    text += identity_;
    return text;
  }

  struct Settle {
    uint64_t tag;
    uint64_t generation;  // the consumer connection the tag belongs to
    bool ack;             // false: reject to the dead-letter queue
    bool ran = false;     // the ack of a job this worker ran: waits for the master's welcome
  };

  // Jobs that end spread over time (a command consumer's: a process each, a few ms apart) sent
  // their events a message each, and RabbitMQ's work per message (a persistent write, a
  // confirm, a delivery, the master's acknowledgement) and the master's (a batch of events, a
  // commit) made such a job cost ten times an SDK job, whose events pile up and merge anyway.
  // So an event waits here up to kGatherWindow for others, and they go to the publisher
  // together. Except when a job ends and no job of this worker waits for a slot: the next job
  // then comes only in a new delivery, which needs the acknowledgement that this job's
  // job.finished leads to (the prefetch counts unacknowledged messages), so it goes at once
  // rather than idling the slots. A worker killed meanwhile loses only events, of jobs whose
  // delivery is unacknowledged: RabbitMQ delivers them again, as before.
  void Gather(Outgoing m, bool job_end) {
    gathered_bytes_ += m.body.size();
    gathered_.push_back(std::move(m));
    if (stopping_ || (job_end && waiting_.empty()) || gathered_.size() >= kGatherMaxEvents ||
        gathered_bytes_ >= kGatherMaxBytes)
      return FlushGathered();
    if (gather_armed_) return;
    gather_armed_ = true;
    gather_timer_.expires_after(kGatherWindow);
    gather_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: flushed before the window ended
      gather_armed_ = false;
      FlushGathered();
    });
  }

  void FlushGathered() {
    if (gather_armed_) {
      gather_armed_ = false;
      gather_timer_.cancel();
    }
    if (gathered_.empty()) return;
    gathered_bytes_ = 0;
    publisher_.Publish(std::exchange(gathered_, {}));
  }

  void QueueSettle(uint64_t tag, uint64_t generation, bool ack, bool ran = false) {
    {
      std::lock_guard lock(mu_);
      settles_.push_back({tag, generation, ack, ran});
    }
    wake_.Notify();
  }

  void SayHello() {
    if (stopping_) return;
    Json running = Json::array();
    for (const auto& [key, r] : runners_)
      running.push_back({{"request", key.first}, {"attempt", key.second}});
    // One hello waiting for its confirm is enough: while RabbitMQ is down they would pile up.
    if (hello_pending_.exchange(true)) return ArmHelloTimer();
    FlushGathered();  // the hello's "running" after the events of the jobs that ended
    Json hello = {{"type", "hello"},          {"v", kAmqpProtocolVersion},
                  {"worker", opts_.name},     {"secret", opts_.secret},
                  {"instance", instance_},    {"capacity", opts_.capacity},
                  {"tags", opts_.tags},       {"running", running},
                  {"paused", paused_.load()}, {"version", "grove-worker/amqp"}};
    publisher_.Publish(
        {kEventsExchange, opts_.name + ".hello", hello.dump(), [this] { hello_pending_ = false; }});
    ArmHelloTimer();
  }

  void ArmHelloTimer() {
    hello_timer_.expires_after(kHelloEvery);
    hello_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) SayHello();
    });
  }

  // Called on the publisher thread (a job.finished confirmed, jobs handed back) or the io
  // thread: |n| jobs of delivery |batch| are done; once all are, the delivery is acknowledged.
  void JobsDone(uint64_t batch, int n) {
    {
      std::lock_guard lock(mu_);
      auto it = batches_.find(batch);
      if (it == batches_.end()) return;
      it->second.open -= n;
      if (it->second.open > 0) return;
      settles_.push_back({it->second.tag, it->second.generation, true, it->second.ran});
      batches_.erase(it);
    }
    wake_.Notify();
  }

  // On the io thread: a delivery from a job queue, one job object or (a master whose welcome
  // has "v" 3, for consumer builders) a JSON array of them (docs/protocol.md).
  void OnJob(Delivery d, uint64_t generation) {
    std::vector<JobSpec> jobs;
    Status st = JobsFromText(d.body, &jobs);
    if (!st.ok()) {
      // Poison: the whole message (one element cannot be told from its neighbours' fate).
      spdlog::error("job message refused ({}); dead-lettered", st.message());
      return QueueSettle(d.tag, generation, false);
    }
    bool known = false;  // a job of it is here: our own delivery again, after a reconnect
    for (const auto& job : jobs) known = known || tags_.count({job.request_id, job.attempt});
    if (stopping_ && !known) {
      // Came while stopping (before the consumers were cancelled): back to its queue as it
      // came, not counted as a loss, and acknowledged once that is confirmed.
      return publisher_.Publish(
          {d.exchange, d.routing_key, std::move(d.body),
           [this, tag = d.tag, generation] { QueueSettle(tag, generation, true); }, "", d.headers});
    }
    if (d.redelivered && !known)
      return Requeue(d, {jobs[0].request_id, jobs[0].attempt}, jobs.size(), generation);
    const uint64_t id = next_batch_++;
    int open = 0;
    bool ran = false;  // a job of it runs here already
    for (size_t i = 0; i < jobs.size(); ++i) {
      Key key{jobs[i].request_id, jobs[i].attempt};
      auto held = tags_.find(key);
      if (held != tags_.end()) {
        bool same_connection;
        {
          std::lock_guard lock(mu_);
          auto old = batches_.find(held->second);
          same_connection = old != batches_.end() && old->second.generation == generation;
        }
        // A second copy of the job (the master publishes a job again after a restart when it
        // cannot know whether the first reached RabbitMQ): the one here is enough.
        if (same_connection && !d.redelivered) continue;
        // Delivered again while it runs or waits here (our connection to the broker broke and
        // RabbitMQ put the message back): this delivery is the one to acknowledge when it
        // finishes (the old delivery tag died with the old connection).
        JobsDone(held->second, 1);  // settles nothing that lives: its generation is gone
        held->second = id;
        ++open;
        ran = ran || runners_.count(key);
        continue;
      }
      // Delivered again, not here: it finished here before the connection broke.
      if (d.redelivered) continue;
      tags_[key] = id;
      waiting_.push_back({std::move(jobs[i]), id, i});
      ++open;
    }
    if (open == 0) return QueueSettle(d.tag, generation, true);
    {
      std::lock_guard lock(mu_);
      batches_[id] = {d.tag,
                      generation,
                      open,
                      ran,
                      std::move(d.exchange),
                      std::move(d.routing_key),
                      std::move(d.headers),
                      std::move(d.body)};
    }
    StartWaiting();
  }

  // Starts waiting jobs while fewer than |capacity| run: a delivery may carry more jobs than
  // that, and they run here, in order, as slots free up.
  void StartWaiting() {
    int capacity;
    {
      std::lock_guard lock(mu_);
      capacity = subscription_.capacity;
    }
    while (!waiting_.empty() && !stopping_ && static_cast<int>(runners_.size()) < capacity) {
      Waiting w = std::move(waiting_.front());
      waiting_.pop_front();
      {
        std::lock_guard lock(mu_);
        if (auto it = batches_.find(w.batch); it != batches_.end()) it->second.ran = true;
      }
      Run(std::move(w.job));
    }
  }

  void Run(JobSpec job) {
    Key key{job.request_id, job.attempt};
    job.master_url = opts_.master_url;
    job.consumers = opts_.consumers;
    std::string dir = dirs_.Acquire(job.builder);
    // At debug level: at thousands of consumer jobs a second, two lines per job were a few
    // per cent of the worker's CPU (and of its log's disk).
    spdlog::debug("job {}.{}: builder {} in {}", job.request_id, job.attempt, job.builder, dir);
    auto runner = std::make_unique<JobRunner>(
        io_, std::move(job), dir, *this, [this, key](JobRunner& r, Result res) {
          spdlog::debug("job {}.{}: {}", key.first, key.second, ResultName(res));
          dirs_.Release(r.builddir());
          // Destroyed later: this callback runs inside the runner.
          asio::post(io_, [this, key] {
            runners_.erase(key);
            StartWaiting();
          });
        });
    JobRunner* raw = runner.get();
    raw->set_master_url(opts_.master_url);
    raw->set_in_process_consumers(opts_.in_process.get());
    runners_[key] = std::move(runner);
    raw->Start();
  }

  // Stopping: the jobs that never started go back to their queue (as they came, in one
  // message per delivery, its x-grove-deliveries kept: not a loss), and their delivery is
  // acknowledged once that is confirmed.
  void HandBackWaiting() {
    std::map<uint64_t, std::vector<size_t>> by_batch;  // the jobs' places in their delivery
    for (auto& w : waiting_) {
      tags_.erase({w.job.request_id, w.job.attempt});
      by_batch[w.batch].push_back(w.index);
    }
    waiting_.clear();
    for (auto& [id, places] : by_batch) {
      Outgoing out;
      std::string body;
      {
        std::lock_guard lock(mu_);
        auto it = batches_.find(id);
        if (it == batches_.end()) continue;
        out.exchange = it->second.exchange;
        out.key = it->second.routing_key;
        out.headers = it->second.headers;
        body = it->second.body;
      }
      Json msg = ParseUntrusted(body);  // it was read before: it parses
      // The jobs as they came (fields this worker does not know included).
      std::vector<Json> jobs;
      for (size_t at : places) {
        if (msg.is_array() && at < msg.size())
          jobs.push_back(std::move(msg[at]));
        else if (msg.is_object() && at == 0)
          jobs.push_back(std::move(msg));
      }
      if (jobs.empty()) continue;
      const int n = static_cast<int>(jobs.size());
      out.body = n == 1 ? jobs[0].dump() : Json(std::move(jobs)).dump();
      out.on_confirmed = [this, id = id, n] { JobsDone(id, n); };
      spdlog::info("{} job(s) that had not started handed back to {}", n, out.key);
      publisher_.Publish(std::move(out));
    }
  }

  // A job delivered before to a consumer that never acknowledged it: that worker died or lost
  // its connection, possibly because of this very job. Classic queues do not count deliveries,
  // so the count of such lost deliveries travels in the x-grove-deliveries header: the message
  // is published again at the back of its queue with the count + 1 (then this delivery is
  // acknowledged), and once kMaxDeliveries were lost it goes to the dead-letter queue instead
  // of taking down worker after worker.
  // An array of jobs is one message: it is requeued or dead-lettered whole.
  void Requeue(const Delivery& d, const Key& key, size_t jobs, uint64_t generation) {
    auto it = d.headers.find(kDeliveriesHeader);
    const int64_t lost = (it == d.headers.end() ? 0 : it->second) + 1;
    const std::string what =
        jobs == 1 ? fmt::format("job {}.{}", key.first, key.second)
                  : fmt::format("{} jobs from job {}.{} on", jobs, key.first, key.second);
    if (lost >= kMaxDeliveries) {
      spdlog::error("{}: lost with its worker {} times; dead-lettered", what, lost);
      return QueueSettle(d.tag, generation, false);
    }
    spdlog::warn(
        "{}: delivered again (its worker died or lost its connection); lost "
        "{} of at most {} times, requeued",
        what, lost, kMaxDeliveries);
    publisher_.Publish({d.exchange,
                        d.routing_key,
                        d.body,
                        [this, tag = d.tag, generation] { QueueSettle(tag, generation, true); },
                        "",
                        {{kDeliveriesHeader, lost}}});
  }

  void OnControl(const std::string& body) {
    Json msg = ParseUntrusted(body);
    // Anyone who may publish to the vhost can reach this queue: every field is checked, and a
    // malformed message is logged and ignored, never the end of the worker.
    JsonFields f(msg, "control message");
    std::string type, instance = instance_;
    f.Str("type", &type, Need::kRequired).Str("instance", &instance);
    if (type == "refused" && f.ok()) return OnRefused(msg);
    if (type == "welcome" && f.ok()) {
      if (!msg.contains("instance") || instance != instance_) return;
      return OnWelcome(msg);
    }
    if ((type == "pause" || type == "resume") && f.ok()) {
      // The consumer thread stops (or resumes) taking jobs from RabbitMQ, so that other
      // workers get them; the jobs already here run to the end.
      spdlog::info("worker {}: {} by the master", opts_.name,
                   type == "pause" ? "paused" : "resumed");
      paused_ = type == "pause";
      wake_.Notify();
      return;
    }
    int64_t request = 0;
    int attempt = 0;
    if (type == "cancel")
      f.Int("request", &request, 0, INT64_MAX, Need::kRequired)
          .Int("attempt", &attempt, 0, INT32_MAX, Need::kRequired);
    if (!f.ok()) return spdlog::warn("{}; ignored", f.status().message());
    if (type != "cancel") return;
    auto it = runners_.find({request, attempt});
    if (it == runners_.end()) return;
    spdlog::info("job {}.{}: cancelled by the master", it->first.first, it->first.second);
    it->second->Cancel();
  }

  // Every welcome (a restarted master sends one again) carries the tags and capacity grove.lua
  // gives this worker: those not given on the command line are taken from it, and the consumer
  // thread subscribes to the job queues they mean.
  void OnWelcome(const Json& msg) {
    if (!welcomed_) spdlog::info("worker {}: accepted by the master", opts_.name);
    welcomed_ = true;
    master_frames_ = IntOr(msg, "v", 1) >= 2;
    master_merges_ = IntOr(msg, "v", 1) >= kMergedEventsVersion;
    std::vector<std::string> tags = opts_.tags;
    int capacity = opts_.capacity;
    auto t = msg.find("tags");
    bool has_tags = t != msg.end() && t->is_array();
    std::vector<std::string> master_tags;
    if (has_tags) {
      for (const auto& tag : *t) {
        if (tag.is_string())
          master_tags.push_back(tag.get<std::string>());
        else
          has_tags = false;
      }
    }
    if (tags.empty() && has_tags) {
      tags = master_tags;
    } else if (tags.empty() && !warned_tags_) {
      warned_tags_ = true;
      spdlog::warn("worker {}: the master's welcome names no tags; taking untagged jobs only",
                   opts_.name);
    } else if (has_tags && !SameSet(tags, master_tags) && !warned_tags_) {
      warned_tags_ = true;
      spdlog::warn(
          "worker {}: --tags {} differ from its tags in grove.lua ({}); the command line wins: "
          "the builders of the other tags are not run here",
          opts_.name, Join(tags), Join(master_tags));
    }
    auto c = msg.find("capacity");
    if (capacity == 0)
      capacity =
          c != msg.end() && c->is_number_integer() && *c >= 1 && *c <= 1024 ? c->get<int>() : 1;
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      if (!SameSet(subscription_.tags, tags) || subscription_.capacity != capacity) {
        subscription_.tags = tags;
        subscription_.capacity = capacity;
        ++subscription_.version;
        changed = true;
      }
    }
    if (changed) {
      spdlog::info("worker {}: tags {} and capacity {} ({})", opts_.name, Join(tags), capacity,
                   opts_.tags.empty() && opts_.capacity == 0 ? "from grove.lua"
                   : opts_.tags.empty()                      ? "tags from grove.lua"
                                                             : "capacity from grove.lua");
      if (opts_.in_process) opts_.in_process->set_max_threads(capacity);
    }
    wake_.Notify();
  }

  static bool SameSet(std::vector<std::string> a, std::vector<std::string> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return a == b;
  }

  static std::string Join(const std::vector<std::string>& tags) {
    std::string out = "{";
    for (size_t i = 0; i < tags.size(); ++i) out += (i ? ", " : " ") + tags[i];
    return out + (tags.empty() ? "}" : " }");
  }

  // The master refused our hello (unknown name or wrong secret): it ignores our events, so stop
  // at once and acknowledge nothing more; RabbitMQ gives the jobs we hold to other workers.
  void OnRefused(const Json& msg) {
    if (StringOr(msg, "instance", instance_) != instance_) return;  // another process's
    const std::string why = StringOr(msg, "error", "refused");
    spdlog::error("master refused this worker: {}", why);
    status_ = Status::Unauthorized("master refused this worker: " + why);
    stop_consumer_ = true;
    wake_.Notify();
    stopping_ = true;
    waiting_.clear();  // unacknowledged: RabbitMQ gives them to the workers the master accepts
    for (auto& [key, r] : runners_) r->Cancel();
    hello_timer_.cancel();
    io_.stop();
  }

  void WaitDrained(std::chrono::steady_clock::time_point deadline) {
    bool settled;
    {
      std::lock_guard lock(mu_);
      settled = settles_.empty();
    }
    // A hello still waiting for RabbitMQ is not worth waiting for; the jobs' events are.
    const size_t hellos = hello_pending_ ? 1 : 0;
    if ((runners_.empty() && publisher_.pending() <= hellos && settled) ||
        std::chrono::steady_clock::now() > deadline) {
      hello_timer_.cancel();
      io_.stop();
      return;
    }
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
    t->async_wait([this, t, deadline](const boost::system::error_code&) { WaitDrained(deadline); });
  }

  // The exchanges and this worker's control queue, declared on every connection before it is
  // used: the queue must exist before the first hello, or the master's answer to it is lost.
  Status DeclareBase(AmqpConnection& c) {
    GROVE_RETURN_IF_ERROR(DeclareTopology(c, {}));
    QueueOptions cq;
    cq.durable = false;
    GROVE_RETURN_IF_ERROR(c.DeclareQueue(ControlQueueFor(opts_.name), cq));
    return c.Bind(ControlQueueFor(opts_.name), kControlExchange, opts_.name);
  }

  // The consumer thread: one connection for jobs (prefetch = capacity, shared by the queues of
  // every tag subset) and one for this worker's control queue, so a cancel is never held back
  // by the prefetch limit.
  void RunConsumer() {
    RetryDelay retry;
    while (!stop_consumer_) {
      ++generation_;
      Status st = ConsumeOnce(retry);
      if (stop_consumer_) break;
      const int wait_ms = retry.Next();
      spdlog::warn("RabbitMQ consumer: {}; next attempt in {}", st.message(), DelayText(wait_ms));
      WaitBeforeRetry(wait_ms);
    }
  }

  // Sleeps |ms| before the next attempt to connect, or less when Join() stops the thread.
  void WaitBeforeRetry(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stop_consumer_) {
      wake_.Drain();  // the settles it announces are looked at after the reconnect
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            until - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return;
      WaitReadable({}, wake_, static_cast<int>(left));
    }
  }

  Status ConsumeOnce(RetryDelay& retry) {
    const uint64_t gen = generation_;
    std::unique_ptr<AmqpConnection> jobs, control;
    GROVE_RETURN_IF_ERROR(AmqpConnection::Open(url_, 30, &jobs));
    GROVE_RETURN_IF_ERROR(AmqpConnection::Open(url_, 30, &control));
    GROVE_RETURN_IF_ERROR(DeclareBase(*control));
    GROVE_RETURN_IF_ERROR(control->Consume(ControlQueueFor(opts_.name), 100));
    spdlog::info("worker {}: connected to {}", opts_.name, url_.Redacted());
    retry.Reset();
    bool consuming = false;
    uint64_t applied = 0;             // the subscription_ version in effect on |jobs|
    std::vector<std::string> queues;  // its job queues
    std::vector<Settle> unwelcomed;   // acks held until the master accepts this worker
    while (true) {
      wake_.Drain();
      std::vector<Settle> settles;
      Subscription want;
      {
        std::lock_guard lock(mu_);
        settles.swap(settles_);
        want = subscription_;
      }
      if (welcomed_) settles.insert(settles.begin(), unwelcomed.begin(), unwelcomed.end());
      if (welcomed_) unwelcomed.clear();
      for (const auto& s : settles) {
        if (s.generation != gen) continue;  // that delivery was on a closed connection
        if (s.ran && !welcomed_) {
          // Until the master accepted our hello, nothing is acknowledged: a worker it refuses
          // (wrong secret) must leave the jobs it took to the others, finished or not.
          unwelcomed.push_back(s);
          continue;
        }
        if (s.ack)
          jobs->AckLater(s.tag);
        else
          GROVE_RETURN_IF_ERROR(jobs->Reject(s.tag, false));
      }
      // The deliveries settled in this round, in one frame where that is exact.
      GROVE_RETURN_IF_ERROR(jobs->FlushAcks());
      if (stop_consumer_) return Status::Ok();
      if (want.version != applied) {
        // Other tags or capacity (the master's welcome): the deliveries held stay ours.
        if (consuming) GROVE_RETURN_IF_ERROR(jobs->CancelConsumers());
        consuming = false;
        queues = QueuesForWorker(want.tags);
        GROVE_RETURN_IF_ERROR(DeclareTopology(*jobs, queues));
        GROVE_RETURN_IF_ERROR(jobs->SharedPrefetch(want.capacity));
        applied = want.version;
        spdlog::info("worker {}: consuming {} job queue(s) (prefetch {})", opts_.name,
                     queues.size(), want.capacity);
      }
      const bool pause = paused_ || draining_;
      if (consuming == pause) {
        if (pause) {
          GROVE_RETURN_IF_ERROR(jobs->CancelConsumers());
        } else {
          for (const auto& q : queues) GROVE_RETURN_IF_ERROR(jobs->Consume(q, 0));
        }
        consuming = !pause;
      }
      // What has arrived, without blocking; then sleep until a socket or a settle wakes us.
      bool any = false;
      Delivery d;
      bool got = false;
      for (int n = 0; n < 256; ++n) {
        GROVE_RETURN_IF_ERROR(jobs->Next(0, &d, &got));
        if (!got) break;
        any = true;
        asio::post(io_, [this, d = std::move(d), gen]() mutable { OnJob(std::move(d), gen); });
      }
      GROVE_RETURN_IF_ERROR(control->Next(0, &d, &got));
      if (got) {
        any = true;
        GROVE_RETURN_IF_ERROR(control->Ack(d.tag));
        asio::post(io_, [this, body = std::move(d.body)] { OnControl(body); });
      }
      if (!any) WaitReadable({jobs.get(), control.get()}, wake_, 200);
    }
  }

  asio::io_context& io_;
  AmqpWorkerOptions opts_;
  AmqpUrl url_;
  std::string instance_;
  std::string identity_;  // ,"instance":...,"worker":...} (EventText; io thread)
  AmqpPublisher publisher_;
  asio::steady_timer hello_timer_;
  // Events not yet handed to the publisher (Gather; io thread).
  std::vector<Outgoing> gathered_;
  size_t gathered_bytes_ = 0;
  asio::steady_timer gather_timer_;
  bool gather_armed_ = false;
  std::thread consumer_;
  std::atomic<bool> stop_consumer_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> paused_{false};
  std::atomic<bool> draining_{false};  // stopping: take no more jobs
  bool master_frames_ = false;  // the master's welcome says it takes binary log frames (io thread)
  // ... and merged events (io thread). Before a welcome a worker sends the separate events,
  // which any master takes.
  bool master_merges_ = false;
  std::atomic<bool> welcomed_{
      false};  // the master accepted our hello  // by the master (POST /api/v1/workers/NAME/pause)
  std::atomic<bool> hello_pending_{false};  // a hello awaits its confirm
  // The tags and capacity the consumer thread should consume with: the command line's, else
  // grove.lua's from the master's welcome; before it, untagged jobs one at a time (what every
  // worker may run: grove.lua's capacity is at least 1).
  struct Subscription {
    std::vector<std::string> tags;
    int capacity = 1;
    uint64_t version = 1;
  };
  std::mutex mu_;
  Subscription subscription_;  // under mu_
  std::vector<Settle> settles_;
  Wakeup wake_;  // settles_ has work, or stop_consumer_ was set
  // io thread only
  std::map<Key, std::unique_ptr<JobRunner>> runners_;
  // A delivery of the jobs queue until every job of it is done (under mu_: the publisher
  // thread settles it when the last job.finished is confirmed).
  struct Batch {
    uint64_t tag;
    uint64_t generation;  // the consumer connection the tag belongs to
    int open;             // its jobs not done yet
    bool ran;             // one of its jobs ran here: the ack waits for the master's welcome
    std::string exchange, routing_key;
    Headers headers;
    std::string body;  // the delivery's, to hand its jobs back when they never started
  };
  std::map<uint64_t, Batch> batches_;  // under mu_
  // A job of a delivery, waiting for a free slot (io thread).
  struct Waiting {
    JobSpec job;
    uint64_t batch;
    size_t index;  // in its delivery (an array of jobs, or 0), to hand it back as it came
  };
  std::deque<Waiting> waiting_;
  uint64_t next_batch_ = 1;
  std::map<Key, uint64_t> tags_;  // job running or waiting here → its delivery (batches_)
  BuildDirs dirs_{opts_.workdir};
  int64_t next_id_ = 1;
  bool stopping_ = false;
  bool warned_tags_ = false;
  Status status_;  // why the worker stopped, when not by a signal
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
    spdlog::info("signal {}: handing running jobs back and stopping", sig);
    agent.Shutdown();
  });
  spdlog::info("worker {} starting; broker {}, work directory {}", opts.name, url.Redacted(),
               fs::absolute(opts.workdir).string());
  io.run();
  agent.Join();
  return agent.status();
}

}  // namespace grove
