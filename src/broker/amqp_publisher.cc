#include "broker/amqp_publisher.h"

#include <set>

#include "broker/amqp_retry.h"
#include "core/log.h"

namespace grove::amqp {

namespace {

constexpr size_t kMaxMerged = 1024 * 1024;  // bytes of one merged array message

struct Wire {
  const std::string* exchange;
  const std::string* key;
  const Headers* headers;
  std::string merged;         // the array, when several messages were merged
  const std::string* single;  // else the one message's body
  const std::string& body() const { return single ? *single : merged; }
};

// The batch as it goes on the wire: runs of mergeable messages become one array each.
std::vector<Wire> Coalesce(const std::vector<Outgoing>& batch) {
  std::vector<Wire> out;
  for (size_t i = 0; i < batch.size();) {
    const Outgoing& m = batch[i];
    size_t j = i + 1;
    size_t bytes = m.body.size();
    if (!m.merge_key.empty() && m.headers.empty()) {
      while (j < batch.size() && batch[j].merge_key == m.merge_key &&
             batch[j].exchange == m.exchange && batch[j].headers.empty() &&
             bytes + batch[j].body.size() < kMaxMerged)
        bytes += batch[j++].body.size() + 1;
    }
    if (j == i + 1) {
      out.push_back({&m.exchange, &m.key, &m.headers, {}, &m.body});
    } else {
      Wire w{&m.exchange, &m.merge_key, &m.headers, {}, nullptr};
      w.merged.reserve(bytes + 2);
      w.merged += '[';
      for (size_t k = i; k < j; ++k) {
        if (k > i) w.merged += ',';
        w.merged += batch[k].body;
      }
      w.merged += ']';
      out.push_back(std::move(w));
    }
    i = j;
  }
  return out;
}

}  // namespace

AmqpPublisher::AmqpPublisher(AmqpUrl url, std::function<Status(AmqpConnection&)> setup,
                             Prepare prepare)
    : url_(std::move(url)), setup_(std::move(setup)), prepare_(std::move(prepare)) {}

AmqpPublisher::~AmqpPublisher() {
  Stop(0);
}

void AmqpPublisher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AmqpPublisher::Publish(Outgoing msg) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(msg));
  }
  cv_.notify_one();
}

size_t AmqpPublisher::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + in_flight_;
}

void AmqpPublisher::Stop(int grace_ms) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AmqpPublisher::Run() {
  std::unique_ptr<AmqpConnection> conn;
  RetryDelay retry;
  std::vector<Outgoing> batch;
  std::set<std::string> prepared;  // Outgoing::needs met on |conn|
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (batch.empty()) {
        cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
        if (stopping_ && (queue_.empty() || std::chrono::steady_clock::now() > stop_deadline_))
          return;
        // A batch is bounded so that one confirm wait covers a reasonable amount.
        while (!queue_.empty() && batch.size() < 2000) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = batch.size();
      } else if (stopping_ && std::chrono::steady_clock::now() > stop_deadline_) {
        return;
      }
    }
    if (batch.empty()) continue;
    Status st;
    if (!conn) {
      prepared.clear();
      st = AmqpConnection::Open(url_, 30, &conn);
      if (st.ok()) st = setup_(*conn);
      if (st.ok()) st = conn->EnableConfirms();
    }
    for (const Outgoing& m : batch) {
      if (!st.ok()) break;
      if (m.needs.empty() || !prepare_ || prepared.count(m.needs)) continue;
      st = prepare_(*conn, m.needs);
      if (st.ok()) prepared.insert(m.needs);
    }
    if (st.ok()) {
      for (const Wire& w : Coalesce(batch)) {
        st = conn->Publish(*w.exchange, *w.key, w.body(), *w.headers);
        if (!st.ok()) break;
      }
    }
    if (st.ok()) st = conn->WaitConfirms(30000);
    if (!st.ok()) {
      const int wait_ms = retry.Next();
      spdlog::warn("RabbitMQ publisher: {}; {} message(s) kept, next attempt in {}", st.message(),
                   pending(), DelayText(wait_ms));
      conn.reset();
      WaitBeforeRetry(wait_ms);
      continue;  // the same batch again, on a new connection
    }
    if (retry.failures() > 0)
      spdlog::info("RabbitMQ publisher: connected to {} after {} failed attempt(s)",
                   url_.Redacted(), retry.failures());
    retry.Reset();
    for (auto& m : batch)
      if (m.on_confirmed) m.on_confirmed();
    batch.clear();
    std::lock_guard lock(mu_);
    in_flight_ = 0;
  }
}

void AmqpPublisher::WaitBeforeRetry(int ms) {
  std::unique_lock lock(mu_);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    // Stop() cuts the wait short, to its own deadline.
    const auto limit = stopping_ ? std::min(until, stop_deadline_) : until;
    if (std::chrono::steady_clock::now() >= limit) return;
    cv_.wait_until(lock, limit);
  }
}

}  // namespace grove::amqp
