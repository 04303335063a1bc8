#include "broker/amqp_broker.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "broker/amqp_publisher.h"
#include "broker/amqp_topology.h"
#include "core/clock.h"
#include "core/log.h"

namespace grove {

using namespace amqp;

namespace {
constexpr int64_t kWorkerSilenceMs = 15000;  // no hello for this long: the worker is gone
}

struct AmqpBroker::State {
  AmqpUrl url;
  BrokerListener* listener = nullptr;
  std::vector<std::string> job_queues;
  std::unique_ptr<AmqpPublisher> publisher;
  std::thread consumer;
  std::atomic<bool> stop{false};

  // Cross-thread inputs of the consumer thread.
  std::mutex mu;
  std::vector<std::pair<ConnId, int64_t>> acks;        // controller: events ≤ upto are durable
  std::vector<std::pair<ConnId, bool>> hello_replies;  // controller: accepted or refused
  std::map<ConnId, std::string> conn_names;            // for Send(cancel)
  std::vector<std::pair<int, std::function<void(Status, Json)>>> dead_letter_reads;

  // Consumer thread only.
  struct Worker {
    ConnId conn = 0;
    std::string instance;
    bool accepted = false;
    int64_t last_seen = 0;
    std::vector<std::pair<int64_t, uint64_t>> unacked;  // (event id, delivery tag)
    std::vector<std::pair<Json, uint64_t>> held;        // events before the hello was accepted
  };
  std::map<std::string, Worker> workers;
  ConnId next_conn = 1;

  Status Setup(AmqpConnection& c) {
    GROVE_RETURN_IF_ERROR(DeclareTopology(c, job_queues));
    QueueOptions q;
    q.dead_letter_exchange = kDeadExchange;
    GROVE_RETURN_IF_ERROR(c.DeclareQueue(kMasterEventsQueue, q));
    return c.Bind(kMasterEventsQueue, kEventsExchange, "#");
  }

  void RunConsumer();
  void ReadDeadLetters(int limit, const std::function<void(Status, Json)>& done);
  Status ConsumeOnce(AmqpConnection& c);
  void Deliver(AmqpConnection& c, Delivery& d, std::map<std::string, std::vector<Json>>* batch);
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
  GROVE_RETURN_IF_ERROR(AmqpConnection::Open(s.url, 30, &c));
  GROVE_RETURN_IF_ERROR(s.Setup(*c));
  c.reset();
  s.publisher = std::make_unique<AmqpPublisher>(
      s.url, [&s](AmqpConnection& c) { return DeclareTopology(c, s.job_queues); });
  s.publisher->Start();
  s.consumer = std::thread([&s] { s.RunConsumer(); });
  return Status::Ok();
}

void AmqpBroker::Stop() {
  State& s = *state_;
  s.stop = true;
  if (s.consumer.joinable()) s.consumer.join();
  if (s.publisher) s.publisher->Stop();
}

void AmqpBroker::PublishJob(const std::vector<std::string>& tags, Json msg) {
  std::string q = JobQueueFor(tags);
  // The message is the job object itself (what a third party may publish too).
  Json job = msg.contains("job") ? msg["job"] : msg;
  state_->publisher->Publish({kJobsExchange, q, job.dump(), nullptr});
}

void AmqpBroker::Send(ConnId conn, Json msg) {
  State& s = *state_;
  const std::string type = msg.value("type", "");
  if (type == "ack") {
    std::lock_guard lock(s.mu);
    s.acks.emplace_back(conn, msg.value("upto", int64_t{-1}));
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
  std::lock_guard lock(state_->mu);
  state_->dead_letter_reads.emplace_back(limit, std::move(done));
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
    // Bodies are shown as text; bytes that are not UTF-8 would break the JSON answer.
    Json body = Json::parse(m.body, nullptr, false);
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
  int backoff_ms = 200;
  while (!stop) {
    std::unique_ptr<AmqpConnection> c;
    Status st = AmqpConnection::Open(url, 30, &c);
    if (st.ok()) st = Setup(*c);
    if (st.ok()) st = c->Consume(kMasterEventsQueue, 2000);
    if (st.ok()) {
      backoff_ms = 200;
      st = ConsumeOnce(*c);
    }
    if (stop) break;
    spdlog::warn("AMQP events consumer: {}; reconnecting in {} ms", st.message(), backoff_ms);
    // Unacknowledged deliveries come back on the new connection: forget their tags.
    for (auto& [name, w] : workers) {
      w.unacked.clear();
      w.held.clear();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

Status AmqpBroker::State::ConsumeOnce(AmqpConnection& c) {
  while (!stop) {
    // 1. What the controller sent back: acks after commit, hello replies.
    std::vector<std::pair<ConnId, int64_t>> my_acks;
    std::vector<std::pair<ConnId, bool>> replies;
    {
      std::lock_guard lock(mu);
      my_acks.swap(acks);
      replies.swap(hello_replies);
    }
    std::vector<std::pair<int, std::function<void(Status, Json)>>> reads;
    {
      std::lock_guard lock(mu);
      reads.swap(dead_letter_reads);
    }
    for (auto& [limit, done] : reads) ReadDeadLetters(limit, done);
    for (auto& [conn, ok] : replies) {
      for (auto& [name, w] : workers) {
        if (w.conn != conn) continue;
        if (!ok) {
          for (auto& [ev, tag] : w.held) GROVE_RETURN_IF_ERROR(c.Reject(tag, false));
          w.held.clear();
          w.conn = 0;
          continue;
        }
        w.accepted = true;
        std::vector<Json> msgs;
        for (auto& [ev, tag] : w.held) {
          w.unacked.emplace_back(ev.value("id", int64_t{-1}), tag);
          msgs.push_back(std::move(ev));
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
            GROVE_RETURN_IF_ERROR(c.Ack(tag));
          else
            keep.emplace_back(id, tag);
        }
        w.unacked.swap(keep);
      }
    }
    // 2. Workers that went silent.
    const int64_t now = NowMs();
    for (auto& [name, w] : workers) {
      if (w.conn && now - w.last_seen > kWorkerSilenceMs) {
        spdlog::warn("AMQP worker {} silent for {} s: gone", name, kWorkerSilenceMs / 1000);
        listener->OnClosed(w.conn, name);
        {
          std::lock_guard lock(mu);
          conn_names.erase(w.conn);
        }
        w.conn = 0;
        w.accepted = false;
        w.instance.clear();
      }
    }
    // 3. New events, in batches (the controller commits a batch in one transaction).
    std::map<std::string, std::vector<Json>> batch;
    Delivery d;
    bool got = false;
    GROVE_RETURN_IF_ERROR(c.Next(50, &d, &got));
    for (int n = 0; got && n < 1000; ++n) {
      Deliver(c, d, &batch);
      GROVE_RETURN_IF_ERROR(c.Next(0, &d, &got));
    }
    for (auto& [name, msgs] : batch) {
      auto& w = workers[name];
      listener->OnMessages(w.conn, name, std::move(msgs));
    }
  }
  return Status::Ok();
}

void AmqpBroker::State::Deliver(AmqpConnection& c, Delivery& d,
                                std::map<std::string, std::vector<Json>>* batch) {
  Json ev = Json::parse(d.body, nullptr, false);
  if (ev.is_discarded() || !ev.is_object() || !ev.contains("worker") || !ev["worker"].is_string() ||
      !ev.contains("type") || !ev["type"].is_string()) {
    // Poison: it can never be handled. The dead-letter queue keeps it for a human.
    spdlog::warn("AMQP event that is not a Grove event ({} bytes) dead-lettered", d.body.size());
    (void)c.Reject(d.tag, false);
    return;
  }
  const std::string name = ev["worker"].get<std::string>();
  Worker& w = workers[name];
  w.last_seen = NowMs();
  if (ev["type"] == "hello") {
    (void)c.Ack(d.tag);  // a hello carries no state worth a redelivery
    std::string instance = ev.value("instance", "");
    if (w.conn && w.instance == instance) return;  // the periodic keep-alive
    if (w.conn) {
      listener->OnClosed(w.conn, name);
      std::lock_guard lock(mu);
      conn_names.erase(w.conn);
    }
    w.conn = next_conn++;
    w.instance = instance;
    w.accepted = false;
    {
      std::lock_guard lock(mu);
      conn_names[w.conn] = name;
    }
    WorkerHello hello;
    hello.name = name;
    hello.secret = ev.value("secret", "");
    hello.capacity = ev.value("capacity", 0);
    if (ev.contains("running") && ev["running"].is_array()) hello.running = ev["running"];
    hello.version = ev.value("version", "");
    hello.remote = "amqp";
    ConnId conn = w.conn;
    listener->OnHello(conn, std::move(hello), [this, conn](Status st) {
      std::lock_guard lock(mu);
      hello_replies.emplace_back(conn, st.ok());
    });
    return;
  }
  if (!w.conn || !w.accepted) {
    // Before the hello was accepted (e.g. the master restarted and the worker's next hello is
    // still to come): kept unacknowledged until then.
    w.held.emplace_back(std::move(ev), d.tag);
    return;
  }
  int64_t id = ev.value("id", int64_t{-1});
  if (id < 0) {
    (void)c.Ack(d.tag);
  } else {
    w.unacked.emplace_back(id, d.tag);
  }
  (*batch)[name].push_back(std::move(ev));
}

}  // namespace grove
