#include "broker/amqp_broker.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "broker/amqp_publisher.h"
#include "broker/amqp_retry.h"
#include "broker/amqp_topology.h"
#include "broker/amqp_wait.h"
#include "core/clock.h"
#include "core/event_parse.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/log_frame.h"
#include "metrics/master_metrics.h"

namespace grove {

using namespace amqp;

namespace {
constexpr int64_t kWorkerSilenceMs = 15000;  // no hello for this long: the worker is gone
// The caps of one job message carrying several consumer jobs (docs/protocol.md).
constexpr size_t kMaxJobsPerMessage = 32;
constexpr size_t kMaxJobBatchBytes = 256 * 1024;
constexpr char kConsumerBuilderPrefix[] = "consume:";
}  // namespace

struct AmqpBroker::State {
  AmqpUrl url;
  BrokerListener* listener = nullptr;
  std::function<Json(const std::string&)> worker_settings;
  std::vector<std::string> job_queues;
  std::unique_ptr<AmqpPublisher> publisher;
  std::thread consumer;
  std::atomic<bool> stop{false};
  std::atomic<bool> active{true};  // consumes the master's queues (SetActive)
  // Every worker this master hears from said v 3 (it takes arrays of jobs), and there is one.
  std::atomic<bool> batch_jobs{false};

  // Cross-thread inputs of the consumer thread.
  std::mutex mu;
  std::vector<std::pair<ConnId, int64_t>> acks;      // controller: events ≤ upto are durable
  std::vector<std::pair<ConnId, int64_t>> resends;   // controller: events ≥ from come again
  enum class Reply { kRefused, kAccepted, kRetry };  // kRetry: the store failed; not answered
  std::vector<std::pair<ConnId, Reply>> hello_replies;
  std::map<ConnId, std::string> conn_names;  // for Send(cancel)
  std::vector<std::pair<int, std::function<void(Status, Json)>>> dead_letter_reads;
  std::vector<std::pair<std::vector<std::string>, Broker::QueueDepthsDone>> depth_reads;
  struct Settle {
    uint64_t tag;
    uint64_t generation;  // the connection the delivery came on
    Status status;        // of the submission
  };
  std::vector<Settle> submission_settles;

  // Consumer thread only.
  struct Worker {
    ConnId conn = 0;
    std::string instance;
    bool accepted = false;
    int64_t last_seen = 0;
    std::vector<std::pair<int64_t, uint64_t>> unacked;  // (event id, delivery tag)
    // Events that came before the hello was accepted, with the delivery tag to settle once the
    // message's last event (ack_id) is durable (0 on the message's other events).
    struct Held {
      Json ev;
      uint64_t tag;
      int64_t ack_id;
      std::string instance;  // of the process that sent it ("" from workers that do not say)
    };
    std::vector<Held> held;
    std::set<std::string> refused;  // instances the master refused
    int64_t v = 1;                  // of its hello
  };
  std::map<std::string, Worker> workers;
  void UpdateBatching() {
    bool any = false, all = true;
    for (const auto& [name, w] : workers) {
      if (!w.conn) continue;
      any = true;
      all = all && w.v >= kAmqpJobArraysVersion;
    }
    batch_jobs = any && all;
  }
  ConnId next_conn = 1;
  uint64_t generation = 0;  // of the consumer connection

  Status Setup(AmqpConnection& c) {
    GROVE_RETURN_IF_ERROR(DeclareTopology(c, job_queues));
    QueueOptions q;
    q.dead_letter_exchange = kDeadExchange;
    GROVE_RETURN_IF_ERROR(c.DeclareQueue(kMasterEventsQueue, q));
    GROVE_RETURN_IF_ERROR(c.Bind(kMasterEventsQueue, kEventsExchange, "#"));
    GROVE_RETURN_IF_ERROR(c.DeclareExchange(kSubmitExchange, "fanout"));
    GROVE_RETURN_IF_ERROR(c.DeclareQueue(kSubmitQueue, q));
    return c.Bind(kSubmitQueue, kSubmitExchange, "");
  }

  void RunConsumer();
  // Sleeps |ms| before the next attempt to connect (Stop() cuts it short); API reads of the
  // dead letters that come meanwhile are answered with |why| rather than left waiting.
  void WaitBeforeRetry(int ms, const Status& why);
  void ReadDeadLetters(int limit, const std::function<void(Status, Json)>& done);
  // Inactive (another master consumes): waits, answering dead-letter reads, until active again.
  void WaitWhileInactive();
  // The consumer was given up: the workers are forgotten (the next holder hears their hellos).
  void ForgetWorkers();
  // The depth of every queue the master knows into the metrics (through the ReadDepths below);
  // a queue that cannot be read is left out.
  void ReadDepths();
  std::atomic<bool> depths_wanted{false};
  // The ready messages of |queues| (a passive declare each, on depth_conn).
  void ReadDepths(const std::vector<std::string>& queues, const Broker::QueueDepthsDone& done);
  // Consumer thread only: a connection of its own for the depth reads (a passive declare of a
  // queue that does not exist closes its channel, which must not be the consumer's).
  std::unique_ptr<AmqpConnection> depth_conn;
  Status ConsumeOnce(AmqpConnection& c);
  using Batch = std::map<std::string, std::vector<WorkerEvent>>;
  void Deliver(AmqpConnection& c, Delivery& d, Batch* batch);
  // Deliver's usual path: the events of a job read without a tree (core/event_parse.h), from
  // an accepted worker. False leaves the message to the tree's way, which checks it in depth.
  bool DeliverParsed(AmqpConnection& c, Delivery& d, Batch* batch);
  std::vector<WorkerEvent> parsed;  // DeliverParsed's, kept for its capacity
  void OnHelloEvent(const std::string& name, const Json& ev);
  // The worker process behind |w| stopped or went silent.
  void Gone(const std::string& name, Worker& w) {
    listener->OnClosed(w.conn, name);
    {
      std::lock_guard lock(mu);
      conn_names.erase(w.conn);
    }
    w.conn = 0;
    w.accepted = false;
    w.instance.clear();
  }
  void OnSubmission(AmqpConnection& c, const Delivery& d);
  Status SettleSubmissions(AmqpConnection& c);
  Wakeup wake;  // acks, hello replies or dead-letter reads are waiting
};

AmqpBroker::AmqpBroker(std::string url, BrokerListener& listener)
    : state_(std::make_shared<State>()) {
  (void)AmqpUrl::Parse(url, &state_->url);
  state_->listener = &listener;
}

AmqpBroker::~AmqpBroker() {
  Stop();
}

Status AmqpBroker::Start(const std::vector<std::vector<std::string>>& builder_tags) {
  State& s = *state_;
  for (const auto& tags : builder_tags) s.job_queues.push_back(JobQueueFor(tags));
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(s.url, 30, &c);
  if (st.ok()) st = s.Setup(*c);
  c.reset();
  if (!st.ok() && !IsTransient(st)) return st;  // a configuration error: waiting cannot help
  if (!st.ok())
    spdlog::warn(
        "RabbitMQ is not reachable ({}); starting anyway: the API answers, requests are stored "
        "and their jobs published once it is",
        st.message());
  // The publisher declares the master's queues too, so that a job never reaches a worker
  // whose events would have no queue to go to.
  s.publisher = std::make_unique<AmqpPublisher>(
      s.url, [&s](AmqpConnection& c) { return s.Setup(c); },
      [](AmqpConnection& c, const std::string& queue) { return DeclareJobQueue(c, queue); });
  s.publisher->Start();
  s.consumer = std::thread([&s] { s.RunConsumer(); });
  return Status::Ok();
}

void AmqpBroker::SetActive(bool active) {
  if (state_->active.exchange(active) == active) return;
  spdlog::info("RabbitMQ events consumer: {}",
               active ? "on (this master holds the amqp-events lease)"
                      : "off (this master does not hold the amqp-events lease)");
  state_->wake.Notify();
}

void AmqpBroker::SetWorkerSettings(std::function<Json(const std::string& name)> lookup) {
  state_->worker_settings = std::move(lookup);
}

void AmqpBroker::Stop() {
  State& s = *state_;
  s.stop = true;
  s.wake.Notify();
  if (s.consumer.joinable()) s.consumer.join();
  if (s.publisher) s.publisher->Stop();
}

namespace {

// A job's message to its queue; |merge|: it may travel with others (consumer jobs).
Outgoing JobOutgoing(const std::vector<std::string>& tags, std::string body, bool merge) {
  std::string q = JobQueueFor(tags);
  // The queue is declared before the first job of each connection goes to it: a builder added
  // by a reconfig may have a tag set no queue existed for, and RabbitMQ drops what it cannot
  // route.
  Outgoing out{kJobsExchange, q, std::move(body), nullptr};
  out.needs = q;
  // Consumer jobs that pile up travel several to a message, when every worker takes that: the
  // broker's work is per message, and a consumer job is small and short.
  if (merge) {
    out.merge_key = q;
    out.merge_max_count = kMaxJobsPerMessage;
    out.merge_max_bytes = kMaxJobBatchBytes;
  }
  return out;
}

}  // namespace

void AmqpBroker::PublishJob(const std::vector<std::string>& tags, Json msg) {
  // The message is the job object itself (what a third party may publish too). Moved out, not
  // copied: a job's tree is a few dozen nodes.
  auto it = msg.find("job");
  Json job = it != msg.end() ? std::move(*it) : std::move(msg);
  auto builder = job.find("builder");
  const bool consumer =
      builder != job.end() && builder->is_string() &&
      builder->get_ref<const std::string&>().rfind(kConsumerBuilderPrefix, 0) == 0;
  Outgoing out = JobOutgoing(tags, "", state_->batch_jobs && consumer);
  // Serialized by the publisher's thread: this one is the master's core loop.
  out.json = std::move(job);
  state_->publisher->Publish(std::move(out));
}

void AmqpBroker::PublishJobText(const std::vector<std::string>& tags, std::string job_text,
                                bool consumer) {
  state_->publisher->Publish(
      JobOutgoing(tags, std::move(job_text), state_->batch_jobs && consumer));
}

void AmqpBroker::Send(ConnId conn, Json msg) {
  State& s = *state_;
  const std::string type = msg.value("type", "");
  if (type == "ack" || type == "resend") {
    {
      std::lock_guard lock(s.mu);
      if (type == "ack")
        s.acks.emplace_back(conn, msg.value("upto", int64_t{-1}));
      else
        s.resends.emplace_back(conn, msg.value("from", int64_t{0}));
    }
    s.wake.Notify();
    return;
  }
  std::string name;
  {
    std::lock_guard lock(s.mu);
    auto it = s.conn_names.find(conn);
    if (it == s.conn_names.end()) return;
    name = it->second;
  }
  // cancel (and anything else for one worker) goes to that worker's control queue.
  s.publisher->Publish({kControlExchange, name, msg.dump(), nullptr});
}

void AmqpBroker::Close(ConnId conn, const std::string& reason) {
  spdlog::info("AMQP worker connection {} closed: {}", conn, reason);
  std::lock_guard lock(state_->mu);
  state_->conn_names.erase(conn);
}

void AmqpBroker::ListDeadLetters(int limit, std::function<void(Status, Json)> done) {
  {
    std::lock_guard lock(state_->mu);
    state_->dead_letter_reads.emplace_back(limit, std::move(done));
  }
  state_->wake.Notify();
}

void AmqpBroker::ReadQueueDepths() {
  state_->depths_wanted = true;
  state_->wake.Notify();
}

void AmqpBroker::State::ReadDepths() {
  std::vector<std::string> names = job_queues;
  names.push_back(kMasterEventsQueue);
  names.push_back(kSubmitQueue);
  names.push_back(kDeadQueue);
  ReadDepths(names, [](const Status& st, std::map<std::string, int64_t> depths) {
    if (!st.ok()) return;
    int64_t dead = 0;
    if (auto it = depths.find(kDeadQueue); it != depths.end()) {
      dead = it->second;
      depths.erase(it);
    }
    metrics::SetAmqpDepths(depths, dead);
  });
}

void AmqpBroker::QueueDepths(std::vector<std::string> queues, QueueDepthsDone done) {
  {
    std::lock_guard lock(state_->mu);
    state_->depth_reads.emplace_back(std::move(queues), std::move(done));
  }
  state_->wake.Notify();
}

void AmqpBroker::State::ReadDepths(const std::vector<std::string>& queues,
                                   const Broker::QueueDepthsDone& done) {
  std::map<std::string, int64_t> out;
  for (const std::string& q : queues) {
    if (!depth_conn) {
      if (Status st = AmqpConnection::Open(url, 10, &depth_conn); !st.ok()) {
        depth_conn.reset();
        return done(st, {});
      }
    }
    uint32_t ready = 0;
    if (depth_conn->QueueDepth(q, &ready).ok())
      out[q] = ready;
    else
      depth_conn.reset();  // no such queue (yet): its channel is closed; nothing waits there
  }
  done(Status::Ok(), std::move(out));
}

void AmqpBroker::State::ReadDeadLetters(int limit, const std::function<void(Status, Json)>& done) {
  // A connection of its own: what it fetches goes back to the queue when it closes.
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(url, 30, &c);
  uint32_t count = 0;
  std::vector<Delivery> msgs;
  if (st.ok()) st = c->QueueDepth(kDeadQueue, &count);
  if (st.ok()) st = c->Peek(kDeadQueue, limit, &msgs);
  if (!st.ok()) return done(st, Json());
  Json out = {{"count", count}, {"messages", Json::array()}};
  for (const auto& m : msgs) {
    Json j = {{"exchange", m.exchange}, {"routing_key", m.routing_key}};
    if (!m.headers.empty()) j["headers"] = m.headers;
    // Bodies are shown as text; bytes that are not UTF-8 would break the JSON answer.
    Json body = ParseUntrusted(m.body);
    // Secrets never leave through the API: a job carries its steps' secrets, a hello the
    // worker's secret.
    if (body.is_object()) {
      if (body.contains("secret")) body["secret"] = "***";
      if (body.contains("secrets") && body["secrets"].is_object())
        for (auto& [k, v] : body["secrets"].items()) v = "***";
      if (body.contains("token")) body["token"] = "***";
      if (body.contains("api_token")) body["api_token"] = "***";
    }
    j["body"] = body;
    if (body.is_discarded()) {
      std::string text;
      for (char ch : m.body.substr(0, 4096))
        text.push_back(static_cast<unsigned char>(ch) < 0x80 ? ch : '?');
      j["body"] = text;
    }
    out["messages"].push_back(std::move(j));
  }
  done(Status::Ok(), std::move(out));
}

void AmqpBroker::State::RunConsumer() {
  RetryDelay retry;
  while (!stop) {
    if (!active) {
      ForgetWorkers();  // also when the lease went while RabbitMQ was out of reach
      WaitWhileInactive();
      continue;
    }
    std::unique_ptr<AmqpConnection> c;
    Status st = AmqpConnection::Open(url, 30, &c);
    if (st.ok()) st = Setup(*c);
    ++generation;
    if (st.ok()) st = c->Consume(kMasterEventsQueue, 2000);
    if (st.ok()) st = c->Consume(kSubmitQueue, 500);
    if (st.ok()) {
      spdlog::info("RabbitMQ events consumer: connected to {}", url.Redacted());
      retry.Reset();
      st = ConsumeOnce(*c);
    }
    if (stop) break;
    c.reset();
    if (!active) {
      // Handed over, not broken: the unacknowledged deliveries went back to RabbitMQ with the
      // connection, for the master that holds the lease now.
      ForgetWorkers();
      retry.Reset();
      continue;
    }
    const int wait_ms = retry.Next();
    spdlog::warn("RabbitMQ events consumer: {}; next attempt in {}", st.message(),
                 DelayText(wait_ms));
    // Unacknowledged deliveries come back on the new connection: forget their tags.
    for (auto& [name, w] : workers) {
      w.unacked.clear();
      w.held.clear();
    }
    WaitBeforeRetry(wait_ms, st);
  }
}

void AmqpBroker::State::ForgetWorkers() {
  for (auto& [name, w] : workers) {
    if (w.conn) Gone(name, w);
    w.unacked.clear();
    w.held.clear();
  }
  UpdateBatching();
  std::lock_guard lock(mu);
  acks.clear();
  resends.clear();
  hello_replies.clear();
  submission_settles.clear();
}

void AmqpBroker::State::WaitWhileInactive() {
  while (!stop && !active) {
    wake.Drain();
    std::vector<std::pair<int, std::function<void(Status, Json)>>> reads;
    {
      std::lock_guard lock(mu);
      reads.swap(dead_letter_reads);
      // Nothing is consumed here: what the controller still answers is for no delivery.
      acks.clear();
      resends.clear();
      hello_replies.clear();
      submission_settles.clear();
    }
    for (auto& [limit, done] : reads) ReadDeadLetters(limit, done);
    WaitReadable({}, wake, 1000);
  }
}

void AmqpBroker::State::WaitBeforeRetry(int ms, const Status& why) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop) {
    wake.Drain();  // ConsumeOnce looks at every input again after the wait
    std::vector<std::pair<int, std::function<void(Status, Json)>>> reads;
    {
      std::lock_guard lock(mu);
      reads.swap(dead_letter_reads);
    }
    for (auto& [limit, done] : reads)
      done(Status::Unavailable("RabbitMQ is not reachable: " + why.message()), Json());
    std::vector<std::pair<std::vector<std::string>, Broker::QueueDepthsDone>> depths;
    {
      std::lock_guard lock(mu);
      depths.swap(depth_reads);
    }
    for (auto& [queues, done] : depths)
      done(Status::Unavailable("RabbitMQ is not reachable: " + why.message()), {});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return;
    WaitReadable({}, wake, static_cast<int>(left));
  }
}

Status AmqpBroker::State::ConsumeOnce(AmqpConnection& c) {
  while (!stop) {
    wake.Drain();
    // 1. What the controller sent back: acks after commit, hello replies.
    std::vector<std::pair<ConnId, int64_t>> my_acks, my_resends;
    std::vector<std::pair<ConnId, Reply>> replies;
    {
      std::lock_guard lock(mu);
      my_acks.swap(acks);
      my_resends.swap(resends);
      replies.swap(hello_replies);
    }
    std::vector<std::pair<int, std::function<void(Status, Json)>>> reads;
    {
      std::lock_guard lock(mu);
      reads.swap(dead_letter_reads);
    }
    for (auto& [limit, done] : reads) ReadDeadLetters(limit, done);
    if (depths_wanted.exchange(false)) ReadDepths();
    std::vector<std::pair<std::vector<std::string>, Broker::QueueDepthsDone>> depths;
    {
      std::lock_guard lock(mu);
      depths.swap(depth_reads);
    }
    for (auto& [queues, done] : depths) ReadDepths(queues, done);
    GROVE_RETURN_IF_ERROR(SettleSubmissions(c));
    for (auto& [conn, reply] : replies) {
      for (auto& [name, w] : workers) {
        if (w.conn != conn) continue;
        if (reply == Reply::kRetry) {
          // The master could not store the hello: the worker's next hello (same instance)
          // is taken as a new one; its held events wait for it.
          std::lock_guard lock(mu);
          conn_names.erase(w.conn);
          w.conn = 0;
          continue;
        }
        if (reply == Reply::kRefused) {
          // Its later events are dead-lettered too (kept small: the last few refused).
          if (!w.instance.empty()) {
            if (w.refused.size() >= 16) w.refused.erase(w.refused.begin());
            w.refused.insert(w.instance);
          }
          for (auto& h : w.held)
            if (h.tag) GROVE_RETURN_IF_ERROR(c.Reject(h.tag, false));
          w.held.clear();
          w.conn = 0;
          continue;
        }
        w.accepted = true;
        std::vector<Json> msgs;
        for (auto& h : w.held) {
          if (w.refused.count(h.instance)) {
            // Sent by a process the master refused under this name: not this worker's.
            if (h.tag) GROVE_RETURN_IF_ERROR(c.Reject(h.tag, false));
            continue;
          }
          if (h.tag) w.unacked.emplace_back(h.ack_id, h.tag);
          msgs.push_back(std::move(h.ev));
        }
        w.held.clear();
        if (!msgs.empty()) listener->OnMessages(conn, name, std::move(msgs));
      }
    }
    for (auto& [conn, upto] : my_acks) {
      for (auto& [name, w] : workers) {
        if (w.conn != conn) continue;
        std::vector<std::pair<int64_t, uint64_t>> keep;
        for (auto& [id, tag] : w.unacked) {
          if (id <= upto)
            c.AckLater(tag);
          else
            keep.emplace_back(id, tag);
        }
        w.unacked.swap(keep);
      }
    }
    // What the controller did not store (its batch was rolled back, or an event before it is
    // missing) goes back to the queue, in its place, and is delivered again.
    for (auto& [conn, from] : my_resends) {
      for (auto& [name, w] : workers) {
        if (w.conn != conn) continue;
        std::vector<std::pair<int64_t, uint64_t>> keep;
        for (auto& [id, tag] : w.unacked) {
          if (id >= from)
            GROVE_RETURN_IF_ERROR(c.Reject(tag, true));
          else
            keep.emplace_back(id, tag);
        }
        w.unacked.swap(keep);
      }
    }
    // The events (and submissions) stored since the last round, in one frame where that is
    // exact: every delivery below the first one still open.
    GROVE_RETURN_IF_ERROR(c.FlushAcks());
    if (!active) return Status::Unavailable("the events queue is handed to another master");
    // 2. Workers that went silent.
    const int64_t now = NowMs();
    for (auto& [name, w] : workers) {
      if (w.conn && now - w.last_seen > kWorkerSilenceMs) {
        spdlog::warn("AMQP worker {} silent for {} s: gone", name, kWorkerSilenceMs / 1000);
        Gone(name, w);
      }
    }
    UpdateBatching();
    // 3. New events, in batches (the controller commits a batch in one transaction).
    Batch batch;
    Delivery d;
    bool got = false;
    GROVE_RETURN_IF_ERROR(c.Next(0, &d, &got));
    if (!got) {
      WaitReadable({&c}, wake, 200);
      continue;
    }
    for (int n = 0; got && n < 1000; ++n) {
      try {
        Deliver(c, d, &batch);
      } catch (const Json::exception& e) {
        // A field of the wrong type (an "id" that is a string, say): nothing anyone can send
        // stops this thread; the message is kept for a human.
        spdlog::warn("AMQP message with a malformed field dead-lettered: {}", e.what());
        (void)c.Reject(d.tag, false);
      }
      GROVE_RETURN_IF_ERROR(c.Next(0, &d, &got));
    }
    for (auto& [name, msgs] : batch) {
      auto& w = workers[name];
      listener->OnEvents(w.conn, name, std::move(msgs));
    }
  }
  return Status::Ok();
}

namespace {

// Why |events| (one AMQP message) cannot be handled, or Ok: each an event of docs/protocol.md
// with the types it documents, all of one worker.
Status CheckEvents(const std::vector<Json>& events) {
  if (events.empty()) return Status::Invalid("not a JSON object or list of objects");
  for (const auto& ev : events) {
    GROVE_RETURN_IF_ERROR(CheckEvent(ev));
    if (!ev.contains("worker")) return Status::Invalid("malformed event: 'worker' is missing");
    if (ev["worker"] != events.front()["worker"])
      return Status::Invalid("events of more than one worker");
  }
  return Status::Ok();
}

}  // namespace

// A message is one event object or an array of events of one worker (docs/protocol.md).
void AmqpBroker::State::Deliver(AmqpConnection& c, Delivery& d, Batch* batch) {
  if (d.exchange == kSubmitExchange) return OnSubmission(c, d);
  std::vector<Json> events;
  const bool frame = IsLogFrame(d.body);
  if (!frame && DeliverParsed(c, d, batch)) return;
  if (frame) {
    // A binary log frame: one "log" event, its payload proved whole here (core/log_frame.h).
    Json ev;
    if (Status st = DecodeLogFrame(d.body, &ev); !st.ok()) {
      spdlog::warn("AMQP event message of {} bytes dead-lettered: {}", d.body.size(), st.message());
      (void)c.Reject(d.tag, false);
      return;
    }
    events.push_back(std::move(ev));
  }
  if (events.empty()) {
    Json body = ParseUntrusted(d.body);
    if (body.is_array()) {
      for (auto& ev : body) events.push_back(std::move(ev));
    } else if (!body.is_discarded()) {
      events.push_back(std::move(body));
    }
  }
  if (Status st = CheckEvents(events); !st.ok()) {
    // Poison: it can never be handled. The dead-letter queue keeps it for a human.
    spdlog::warn("AMQP event message of {} bytes dead-lettered: {}", d.body.size(), st.message());
    (void)c.Reject(d.tag, false);
    return;
  }
  const std::string name = events.front()["worker"].get<std::string>();
  Worker& w = workers[name];
  const std::string instance = StringOr(events.front(), "instance");
  if (!instance.empty() && w.refused.count(instance)) {
    // A process the master refused, still running until it reads the refusal: its hellos
    // must not displace the accepted process, its events are not this worker's.
    bool hellos_only = true;
    for (const auto& ev : events) hellos_only = hellos_only && ev["type"] == "hello";
    (void)(hellos_only ? c.Ack(d.tag) : c.Reject(d.tag, false));
    return;
  }
  w.last_seen = NowMs();
  // The delivery is settled once its last event with an id is durable; hellos carry no state
  // worth a redelivery, so a message of hellos only is acknowledged at once.
  int64_t ack_id = -1;
  size_t last = 0;  // the event that carries the delivery tag
  for (size_t i = 0; i < events.size(); ++i) {
    int64_t id = IntOr(events[i], "id", -1);
    if (events[i]["type"] != "hello" && events[i]["type"] != "bye" && id >= 0) {
      ack_id = std::max(ack_id, id);
      last = i;
    }
  }
  if (ack_id < 0) (void)c.Ack(d.tag);
  const uint64_t tag = ack_id < 0 ? 0 : d.tag;
  for (size_t i = 0; i < events.size(); ++i) {
    Json& ev = events[i];
    if (ev["type"] == "hello") {
      OnHelloEvent(name, ev);
      continue;
    }
    if (ev["type"] == "bye") {  // the worker process stopped
      if (w.conn && w.instance == StringOr(ev, "instance")) Gone(name, w);
      continue;
    }
    const bool carries_tag = tag && i == last;
    if (!w.conn || !w.accepted) {
      // Before the hello was accepted (e.g. the master restarted and the worker's next hello
      // is still to come): kept unacknowledged until then.
      std::string instance = StringOr(ev, "instance");
      w.held.push_back({std::move(ev), carries_tag ? tag : 0, ack_id, std::move(instance)});
      continue;
    }
    if (carries_tag) w.unacked.emplace_back(ack_id, tag);
    (*batch)[name].emplace_back(std::move(ev));
  }
}

bool AmqpBroker::State::DeliverParsed(AmqpConnection& c, Delivery& d, Batch* batch) {
  std::string name, instance;
  if (!ParseEventsFast(d.body, &parsed, &name, &instance)) return false;
  auto it = workers.find(name);
  // Held until its hello is accepted, or refused: the tree's way, as rare as it is.
  if (it == workers.end() || !it->second.conn || !it->second.accepted) return false;
  Worker& w = it->second;
  if (!instance.empty() && w.refused.count(instance)) return false;
  w.last_seen = NowMs();
  // As Deliver: settled once its last event with an id is durable (this path has no hellos).
  int64_t ack_id = -1;
  for (const WorkerEvent& ev : parsed) ack_id = std::max(ack_id, ev.id);
  if (ack_id < 0)
    (void)c.Ack(d.tag);
  else
    w.unacked.emplace_back(ack_id, d.tag);
  std::vector<WorkerEvent>& to = (*batch)[name];
  for (WorkerEvent& ev : parsed) to.push_back(std::move(ev));
  parsed.clear();
  return true;
}

void AmqpBroker::State::OnHelloEvent(const std::string& name, const Json& ev) {
  WorkerHello hello;
  if (Status st = ParseHello(ev, "worker", &hello); !st.ok()) {
    // Refused before it displaces anything: a Grove worker that reads this stops.
    spdlog::warn("AMQP worker {}: hello refused: {}", name, st.message());
    Json answer = {
        {"type", "refused"}, {"instance", StringOr(ev, "instance")}, {"error", st.message()}};
    publisher->Publish({kControlExchange, name,
                        answer.dump(-1, ' ', false, Json::error_handler_t::replace), nullptr});
    return;
  }
  hello.remote = "amqp";
  const std::string instance = hello.instance;
  Worker& w = workers[name];
  if (w.conn && w.instance == instance) return;  // the periodic keep-alive
  if (w.conn) {
    listener->OnClosed(w.conn, name);
    std::lock_guard lock(mu);
    conn_names.erase(w.conn);
  }
  w.conn = next_conn++;
  w.instance = instance;
  w.accepted = false;
  w.v = IntOr(ev, "v", 1);
  UpdateBatching();
  {
    std::lock_guard lock(mu);
    conn_names[w.conn] = name;
  }
  ConnId conn = w.conn;
  listener->OnHello(conn, std::move(hello), [this, conn, name, instance](Status st) {
    // The worker learns the answer on its control queue: a refused one stops, an accepted one
    // starts acknowledging its jobs (docs/protocol.md). A hello the master could not store
    // (a full disk) is not answered: the worker's next one is handled as new.
    const bool retry = st.code() == Status::Code::kUnavailable;
    if (!retry) {
      Json answer = {{"type", st.ok() ? "welcome" : "refused"}, {"instance", instance}};
      // 2: this master takes binary log frames; 3: it may send arrays of jobs.
      if (st.ok()) answer["v"] = kAmqpProtocolVersion;
      if (!st.ok()) answer["error"] = st.message();
      // What grove.lua says of the worker, for a worker started without --tags or --capacity.
      if (Json settings = st.ok() && worker_settings ? worker_settings(name) : Json();
          settings.is_object())
        answer.update(settings);
      publisher->Publish({kControlExchange, name, answer.dump(), nullptr});
    }
    {
      std::lock_guard lock(mu);
      hello_replies.emplace_back(conn, retry     ? Reply::kRetry
                                       : st.ok() ? Reply::kAccepted
                                                 : Reply::kRefused);
    }
    wake.Notify();
  });
}

void AmqpBroker::State::OnSubmission(AmqpConnection& c, const Delivery& d) {
  // An array is a batch of submissions (at most 16 MiB, each element at most 1 MiB).
  const size_t first = d.body.find_first_not_of(" \t\r\n");
  const bool batch = first != std::string::npos && d.body[first] == '[';
  const size_t limit = batch ? kMaxSubmissionBatchBytes : kMaxSubmissionBytes;
  if (d.body.size() > limit) {
    spdlog::warn("AMQP submission of {} bytes (more than {} MiB) dead-lettered", d.body.size(),
                 limit >> 20);
    (void)c.Reject(d.tag, false);
    return;
  }
  Json msg = ParseUntrusted(d.body);
  if (msg.is_discarded() || !(msg.is_object() || msg.is_array())) {
    spdlog::warn("AMQP submission that is not a JSON object or array ({} bytes) dead-lettered",
                 d.body.size());
    (void)c.Reject(d.tag, false);
    return;
  }
  if (msg.is_array() && d.body.size() > kMaxSubmissionBytes) {
    for (size_t i = 0; i < msg.size(); ++i) {
      if (msg[i].dump().size() <= kMaxSubmissionBytes) continue;
      spdlog::warn("AMQP submission batch dead-lettered: submission {} is larger than 1 MiB", i);
      (void)c.Reject(d.tag, false);
      return;
    }
  }
  listener->OnSubmission(std::move(msg), [this, tag = d.tag, gen = generation](Status st) {
    {
      std::lock_guard lock(mu);
      submission_settles.push_back({tag, gen, std::move(st)});
    }
    wake.Notify();
  });
}

// A durable submission is acknowledged; one that can never be accepted goes to the dead
// letters; one that failed for now (the store) comes back later.
Status AmqpBroker::State::SettleSubmissions(AmqpConnection& c) {
  std::vector<Settle> settles;
  {
    std::lock_guard lock(mu);
    settles.swap(submission_settles);
  }
  for (const auto& s : settles) {
    if (s.generation != generation) continue;  // its delivery died with an older connection
    if (s.status.ok()) {
      c.AckLater(s.tag);  // sent by FlushAcks in this round
    } else if (s.status.IsInvalid() || s.status.IsNotFound()) {
      spdlog::warn("AMQP submission refused ({}); dead-lettered", s.status.message());
      GROVE_RETURN_IF_ERROR(c.Reject(s.tag, false));
    } else {
      spdlog::warn("AMQP submission failed ({}); requeued", s.status.message());
      GROVE_RETURN_IF_ERROR(c.Reject(s.tag, true));
    }
  }
  return Status::Ok();
}

}  // namespace grove
