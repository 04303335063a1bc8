#include "broker/amqp_publisher.h"

#include <algorithm>
#include <set>

#include "broker/amqp_retry.h"
#include "core/log.h"

namespace grove::amqp {

namespace {

constexpr size_t kMaxMerged = 1024 * 1024;  // bytes of one merged array message, by default
// The window of unconfirmed messages. Few wire messages: under load, what waits for room is
// coalesced, so the broker handles few large messages rather than many small ones; enough of
// them that a confirm's round trip does not idle the connection.
constexpr size_t kWindowPublishes = 16;
constexpr size_t kWindowMessages = 4096;
// Mergeable messages (events, consumer jobs) are many and small: few of their wire messages
// in flight, so that even at a moderate rate they travel together rather than one by one.
constexpr size_t kWindowMerged = 2;
constexpr auto kConfirmTimeout = std::chrono::seconds(30);

struct Wire {
  const std::string* exchange;
  const std::string* key;
  const Headers* headers;
  std::string merged;         // the array, when several messages were merged
  const std::string* single;  // else the one message's body
  size_t count;               // messages of the batch it carries
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
      const size_t max_bytes = m.merge_max_bytes ? m.merge_max_bytes : kMaxMerged;
      const size_t max_count = m.merge_max_count ? m.merge_max_count : SIZE_MAX;
      while (j < batch.size() && j - i < max_count && batch[j].merge_key == m.merge_key &&
             batch[j].exchange == m.exchange && batch[j].headers.empty() &&
             bytes + batch[j].body.size() < max_bytes)
        bytes += batch[j++].body.size() + 1;
    }
    if (j == i + 1) {
      out.push_back({&m.exchange, &m.key, &m.headers, {}, &m.body, 1});
    } else {
      Wire w{&m.exchange, &m.merge_key, &m.headers, {}, nullptr, j - i};
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
    : url_(std::move(url)),
      setup_(std::move(setup)),
      prepare_(std::move(prepare)),
      wake_(std::make_unique<Wakeup>()) {}

AmqpPublisher::~AmqpPublisher() {
  Stop(0);
}

void AmqpPublisher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AmqpPublisher::Publish(Outgoing msg) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    // Only a message the thread can take now wakes it: one behind another is taken after it,
    // and a mergeable one while merged messages fill their window waits for a confirm. Events
    // come one by one, and waking the thread for each that it cannot send cost a context
    // switch per event.
    wake = waiting_ && queue_.empty() && (msg.merge_key.empty() || waiting_merged_);
    queue_.push_back(std::move(msg));
    if (wake) waiting_ = false;  // one wake-up is enough
  }
  if (wake) wake_->Notify();
}

void AmqpPublisher::Publish(std::vector<Outgoing> msgs) {
  if (msgs.empty()) return;
  bool wake;
  {
    std::lock_guard lock(mu_);
    wake = waiting_ && queue_.empty() && (msgs.front().merge_key.empty() || waiting_merged_);
    for (Outgoing& m : msgs) queue_.push_back(std::move(m));
    if (wake) waiting_ = false;
  }
  if (wake) wake_->Notify();
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
  wake_->Notify();
  if (thread_.joinable()) thread_.join();
}

bool AmqpPublisher::CanTake(const Outgoing& m) const {
  return sent_.size() < kWindowPublishes && unconfirmed_.size() < kWindowMessages &&
         (m.merge_key.empty() || merged_in_flight_ < kWindowMerged);
}

void AmqpPublisher::Wait(const AmqpConnection* conn, int ms, bool for_queue) {
  {
    std::lock_guard lock(mu_);
    if (for_queue && !queue_.empty() && CanTake(queue_.front())) return;
    waiting_ = for_queue;
    waiting_merged_ = for_queue && merged_in_flight_ < kWindowMerged;
    if (stopping_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            stop_deadline_ - std::chrono::steady_clock::now())
                            .count();
      ms = static_cast<int>(std::clamp<int64_t>(left + 1, 0, ms));
    }
  }
  if (conn)
    WaitReadable({conn}, *wake_, ms);
  else
    WaitReadable({}, *wake_, ms);
  wake_->Drain();
  std::lock_guard lock(mu_);
  waiting_ = false;
}

void AmqpPublisher::Run() {
  std::unique_ptr<AmqpConnection> conn;
  RetryDelay retry;
  std::vector<Outgoing> batch;     // to publish next, in order
  std::set<std::string> prepared;  // Outgoing::needs met on |conn|
  std::vector<AmqpConnection::Confirm> confirms;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ && ((queue_.empty() && batch.empty() && unconfirmed_.empty()) ||
                        std::chrono::steady_clock::now() > stop_deadline_))
        return;
      // New messages while the window has room; the rest waits (and is coalesced later).
      while (!queue_.empty() && CanTake(queue_.front()) &&
             unconfirmed_.size() + batch.size() < kWindowMessages) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_flight_ = batch.size() + unconfirmed_.size();
    }
    for (Outgoing& m : batch) {
      if (!m.body.empty() || m.json.is_null()) continue;
      // Text that is not UTF-8 is replaced rather than thrown about on this thread.
      m.body = m.json.dump(-1, ' ', false, Json::error_handler_t::replace);
      m.json = Json();
    }
    if (batch.empty() && unconfirmed_.empty()) {
      Wait(nullptr, 1000, true);
      continue;
    }
    Status st;
    if (!conn) {
      prepared.clear();
      sent_.clear();
      merged_in_flight_ = 0;
      acked_upto_ = 0;
      acked_singles_.clear();
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
    if (st.ok() && !batch.empty()) PublishBatch(*conn, batch, &st);
    if (st.ok()) {
      // What has come back, without blocking; when nothing more can be sent, wait for it.
      confirms.clear();
      st = conn->PollConfirms(0, &confirms);
      if (st.ok() && !Settle(confirms))
        st = Status::Unavailable("the broker refused (nacked) a published message");
      const bool room_for_more =
          sent_.size() < kWindowPublishes && unconfirmed_.size() < kWindowMessages;
      bool room;
      {
        std::lock_guard lock(mu_);
        room = !queue_.empty() && CanTake(queue_.front());
      }
      if (st.ok() && !sent_.empty() && confirms.empty() && !room) {
        if (std::chrono::steady_clock::now() - oldest_sent_ > kConfirmTimeout) {
          st = Status::Unavailable("publisher confirms did not arrive in time");
        } else {
          Wait(conn.get(), 1000, room_for_more);
          if (conn->HasBuffered()) continue;
        }
      }
    }
    if (!st.ok()) {
      // Every unconfirmed message goes again, first and in order, on a new connection.
      std::vector<Outgoing> again;
      again.reserve(unconfirmed_.size() + batch.size());
      for (auto& m : unconfirmed_) again.push_back(std::move(m));
      for (auto& m : batch) again.push_back(std::move(m));
      unconfirmed_.clear();
      sent_.clear();
      merged_in_flight_ = 0;
      batch.swap(again);
      const int wait_ms = retry.Next();
      spdlog::warn("RabbitMQ publisher: {}; {} message(s) kept, next attempt in {}", st.message(),
                   pending(), DelayText(wait_ms));
      conn.reset();
      WaitBeforeRetry(wait_ms);
      continue;
    }
    if (retry.failures() > 0 && confirms.size() > 0) {
      spdlog::info("RabbitMQ publisher: connected to {} after {} failed attempt(s)",
                   url_.Redacted(), retry.failures());
      retry.Reset();
    }
  }
}

bool AmqpPublisher::PublishBatch(AmqpConnection& conn, std::vector<Outgoing>& batch, Status* st) {
  size_t done = 0;  // messages of |batch| on the wire
  for (const Wire& w : Coalesce(batch)) {
    *st = conn.Publish(*w.exchange, *w.key, w.body(), *w.headers);
    if (!st->ok()) break;
    if (sent_.empty()) oldest_sent_ = std::chrono::steady_clock::now();
    const bool merged = !batch[done].merge_key.empty();
    sent_.push_back({conn.published(), w.count, merged});
    if (merged) ++merged_in_flight_;
    done += w.count;
  }
  for (size_t i = 0; i < done; ++i) unconfirmed_.push_back(std::move(batch[i]));
  batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(done));
  return st->ok();
}

bool AmqpPublisher::Settle(const std::vector<AmqpConnection::Confirm>& confirms) {
  for (const auto& c : confirms) {
    if (!c.ack) return false;
    if (c.multiple)
      acked_upto_ = std::max(acked_upto_, c.tag);
    else if (c.tag == acked_upto_ + 1)
      acked_upto_ = c.tag;
    else if (c.tag > acked_upto_)
      acked_singles_.insert(c.tag);
  }
  while (!acked_singles_.empty() && *acked_singles_.begin() <= acked_upto_ + 1) {
    acked_upto_ = std::max(acked_upto_, *acked_singles_.begin());
    acked_singles_.erase(acked_singles_.begin());
  }
  size_t settled = 0;
  while (!sent_.empty() && sent_.front().seq <= acked_upto_) {
    for (size_t i = 0; i < sent_.front().count; ++i) {
      if (unconfirmed_.front().on_confirmed) unconfirmed_.front().on_confirmed();
      unconfirmed_.pop_front();
      ++settled;
    }
    if (sent_.front().merged) --merged_in_flight_;
    sent_.pop_front();
    if (!sent_.empty()) oldest_sent_ = std::chrono::steady_clock::now();
  }
  if (settled) {
    // After the callbacks: pending() reaches 0 only once they have run.
    std::lock_guard lock(mu_);
    in_flight_ -= std::min(in_flight_, settled);
  }
  return true;
}

void AmqpPublisher::WaitBeforeRetry(int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    std::chrono::steady_clock::time_point limit;
    {
      std::lock_guard lock(mu_);
      // Stop() cuts the wait short, to its own deadline.
      limit = stopping_ ? std::min(until, stop_deadline_) : until;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= limit) return;
    WaitReadable({}, *wake_,
                 static_cast<int>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(limit - now).count()) +
                     1);
    wake_->Drain();
  }
}

}  // namespace grove::amqp
