#include "notify/service.h"

#include <algorithm>
#include <deque>
#include <set>

#include "core/clock.h"
#include "core/log.h"
#include "metrics/master_metrics.h"
#include "notify/factory.h"
#include "notify/notice.h"
#include "notify/notifier.h"
#include "notify/outbox.h"

namespace grove::notify {

struct NotifyService::Lane {
  std::string name;
  std::string kind;
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<Notifier> notifier;    // replaced on reconfig; a send in flight keeps its own
  std::shared_ptr<const Config> config;  // the config |notifier| and |common| come from
  NotifierCommon common;
  std::deque<NotificationRecord> queue;  // claimed ("sending"), not yet tried
  bool claiming = false;
  bool stop = false;
  std::atomic<bool> done{false};  // its thread has returned: joining it cannot block
  std::thread thread;
};

namespace {

const char* kUnknownOutcome =
    "outcome unknown: the master stopped while this notice was being sent; sending it again";

int64_t Backoff(const NotifierCommon& c, int attempts) {
  int64_t delay = c.retry_delay_ms;
  for (int i = 1; i < attempts && delay < c.max_retry_delay_ms; ++i) delay *= 2;
  return std::min(delay, c.max_retry_delay_ms);
}

}  // namespace

NotifyService::NotifyService(RunOnCore core, ServiceOptions opts, BuildControl* control)
    : core_(std::move(core)), opts_(std::move(opts)), control_(control) {}

NotifyService::~NotifyService() {
  Stop();
}

Status NotifyService::Start(std::shared_ptr<const Config> config) {
  std::set<std::string> names;
  for (const NotifierInfo& n : ListNotifiers(*config)) names.insert(n.common->name);
  core_(
      [names](Store& store) {
        const int64_t now = NowMs();
        int count = 0;
        Status st = store.RequeueSendingNotifications(now, kUnknownOutcome, &count);
        if (!st.ok()) spdlog::error("notify: cannot requeue interrupted notices: {}", st.message());
        if (count > 0)
          spdlog::warn(
              "notify: {} notices were being sent when the master stopped; their outcome "
              "is unknown, so they are sent again",
              count);
        std::vector<std::string> with_work;
        if (store.NotifiersWithWork(&with_work).ok())
          for (const std::string& n : with_work)
            if (!names.count(n)) {
              spdlog::warn(
                  "notify: notifier '{}' is no longer in grove.lua; its unsent notices "
                  "are marked failed",
                  n);
              (void)store.FailNotifications(n, now,
                                            "notifier '" + n + "' is no longer in grove.lua");
            }
      },
      [](const Status&) {});
  {
    std::lock_guard lock(mu_);
    ApplyConfig(std::move(config));
  }
  coordinator_ = std::thread([this] { Coordinate(); });
  Wake();
  return Status::Ok();
}

void NotifyService::Reconfigure(std::shared_ptr<const Config> config) {
  std::set<std::string> names;
  for (const NotifierInfo& n : ListNotifiers(*config)) names.insert(n.common->name);
  std::vector<std::shared_ptr<Lane>> removed;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      std::string kind;
      const NotifierCommon* c = FindNotifier(*config, it->first, &kind);
      if (c && kind == it->second->kind) {
        ++it;
        continue;
      }
      removed.push_back(it->second);
      it = lanes_.erase(it);
    }
    ApplyConfig(std::move(config));
  }
  for (auto& lane : removed) {
    {
      std::lock_guard l(lane->mu);
      lane->stop = true;
    }
    lane->cv.notify_all();
    if (lane->notifier) lane->notifier->Stop();
    // Reconfig runs on the network thread: a send in flight may take up to its timeout, so the
    // lane is joined later (by the coordinator once it is done, or by Stop).
    {
      std::lock_guard lock(mu_);
      retired_.push_back(lane);
    }
    if (!names.count(lane->name)) {
      std::string name = lane->name;
      core_(
          [name](Store& store) {
            (void)store.FailNotifications(name, NowMs(),
                                          "notifier '" + name + "' was removed from grove.lua");
          },
          [](const Status&) {});
    }
  }
  Wake();
}

void NotifyService::ApplyConfig(std::shared_ptr<const Config> config) {
  config_ = config;
  NotifierEnv env{control_, &aborting_};
  for (const NotifierInfo& n : ListNotifiers(*config)) {
    auto it = lanes_.find(n.common->name);
    if (it != lanes_.end()) {
      Lane& lane = *it->second;
      std::shared_ptr<Notifier> old;
      {
        std::lock_guard l(lane.mu);
        lane.common = *n.common;
        lane.config = config;
        if (!lane.notifier || !lane.notifier->Update(*config)) {
          old = std::move(lane.notifier);
          lane.notifier = MakeNotifier(*config, lane.name, env);
        }
      }
      if (old) old->Stop();
      continue;
    }
    auto lane = std::make_shared<Lane>();
    lane->name = n.common->name;
    lane->kind = n.kind;
    lane->common = *n.common;
    lane->config = config;
    lane->notifier = MakeNotifier(*config, lane->name, env);
    if (!lane->notifier) {
      spdlog::warn("notify: notifier '{}' ({}) is not available in this build", lane->name, n.kind);
      continue;
    }
    Lane* raw = lane.get();
    lane->thread = std::thread([this, raw] { RunLane(raw); });
    lanes_[lane->name] = std::move(lane);
  }
}

void NotifyService::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void NotifyService::Stop() {
  std::map<std::string, std::shared_ptr<Lane>> lanes;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && lanes_.empty()) return;
    stopping_ = true;
    lanes.swap(lanes_);
  }
  aborting_ = true;
  cv_.notify_all();
  if (coordinator_.joinable()) coordinator_.join();
  {
    std::lock_guard lock(mu_);
    for (auto& lane : retired_)
      lanes.emplace(lane->name + "#retired" + std::to_string(lanes.size()), lane);
    retired_.clear();
  }
  for (auto& [name, lane] : lanes) {
    {
      std::lock_guard l(lane->mu);
      lane->stop = true;
    }
    lane->cv.notify_all();
    if (lane->notifier) lane->notifier->Stop();
  }
  for (auto& [name, lane] : lanes)
    if (lane->thread.joinable()) lane->thread.join();
}

NotifyService::Stats NotifyService::stats() const {
  return {sent_.load(), retried_.load(), failed_.load()};
}

void NotifyService::Coordinate() {
  std::unique_ptr<Store> reads;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, opts_.poll, [&] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    std::vector<std::shared_ptr<Lane>> lanes, finished;
    for (auto& [name, lane] : lanes_) lanes.push_back(lane);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if ((*it)->done) {
        finished.push_back(*it);
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& lane : finished)
      if (lane->thread.joinable()) lane->thread.join();
    if (!reads) {
      Status st = OpenStore(opts_.store_url, opts_.base_dir, &reads);
      if (!st.ok()) {
        spdlog::error("notify: cannot open the store: {}", st.message());
        reads.reset();
      }
    }
    for (auto& lane : lanes) {
      {
        std::lock_guard l(lane->mu);
        if (lane->claiming || !lane->queue.empty() || lane->stop) continue;
      }
      // A cheap look on our own connection first: the core loop is asked only when there is
      // something to claim.
      std::vector<int64_t> due;
      if (reads && reads->DueNotifications(lane->name, NowMs(), 1, &due).ok() && due.empty())
        continue;
      Claim(lane);
    }
    lock.lock();
  }
}

void NotifyService::Claim(const std::shared_ptr<Lane>& lane) {
  {
    std::lock_guard l(lane->mu);
    lane->claiming = true;
  }
  auto rows = std::make_shared<std::vector<NotificationRecord>>();
  const int batch = opts_.claim_batch;
  std::string name = lane->name;
  core_(
      [name, rows, batch](Store& store) {
        Status st = store.ClaimNotifications(name, NowMs(), batch, rows.get());
        if (!st.ok()) {
          spdlog::error("notify {}: cannot claim notices: {}", name, st.message());
          rows->clear();
        }
      },
      [this, lane, rows](const Status& st) {
        std::vector<NotificationRecord> back;  // claimed for a lane that stopped meanwhile
        {
          std::lock_guard l(lane->mu);
          lane->claiming = false;
          if (!st.ok()) return;
          if (lane->stop)
            back = *rows;
          else
            for (auto& r : *rows) lane->queue.push_back(std::move(r));
        }
        lane->cv.notify_all();
        if (back.empty()) return;
        // Never tried: back to the queue, this claim's attempt not counted (or failed, when a
        // reconfig removed the notifier).
        bool removed = !aborting_;
        std::string name = lane->name;
        core_(
            [back, removed, name](Store& store) {
              for (NotificationRecord r : back) {
                r.state = removed ? "failed" : "retrying";
                if (removed) r.answer = "notifier '" + name + "' was removed from grove.lua";
                r.attempts = std::max(0, r.attempts - 1);
                r.next_at = r.updated_at = NowMs();
                (void)store.UpdateNotification(r);
              }
            },
            [](const Status&) {});
      });
}

void NotifyService::RunLane(Lane* lane) {
  std::unique_ptr<Store> store;
  for (;;) {
    NotificationRecord rec;
    std::shared_ptr<Notifier> notifier;
    std::shared_ptr<const Config> config;
    NotifierCommon common;
    {
      std::unique_lock l(lane->mu);
      lane->cv.wait(l, [&] { return lane->stop || !lane->queue.empty(); });
      if (lane->stop) break;
      rec = std::move(lane->queue.front());
      lane->queue.pop_front();
      notifier = lane->notifier;
      config = lane->config;
      common = lane->common;
    }
    Outcome outcome;
    Status st;
    if (!store) st = OpenStore(opts_.store_url, opts_.base_dir, &store);
    if (!st.ok()) {
      store.reset();
      outcome = Outcome::Retry("cannot read the store: " + st.message());
    } else {
      Notice notice;
      st = LoadNotice(*store, *config, common, rec, &notice);
      if (st.IsNotFound())
        outcome = Outcome::Failed(st.message());
      else if (!st.ok())
        outcome = Outcome::Retry("cannot read build " + std::to_string(rec.build_id) + ": " +
                                 st.message());
      else
        outcome = notifier->Deliver(notice);
    }
    if (aborting_ && outcome.kind != Outcome::Kind::kSent)
      outcome = Outcome::Retry("the master stopped during the attempt: " + outcome.answer);
    Finish(lane, std::move(rec), outcome);
    bool idle;
    {
      std::lock_guard l(lane->mu);
      idle = lane->queue.empty();
    }
    if (idle) Wake();  // claim the next batch now rather than at the next poll
  }
  // Claimed but never tried: due again at once (the next start claims them).
  std::deque<NotificationRecord> left;
  {
    std::lock_guard l(lane->mu);
    left.swap(lane->queue);
  }
  struct MarkDone {
    Lane* lane;
    ~MarkDone() { lane->done = true; }
  } mark{lane};
  if (left.empty()) return;
  bool removed = !aborting_;
  std::string name = lane->name;
  core_(
      [left, removed, name](Store& store) {
        for (NotificationRecord r : left) {
          r.state = removed ? "failed" : "retrying";
          if (removed) r.answer = "notifier '" + name + "' was removed from grove.lua";
          r.attempts = std::max(0, r.attempts - 1);
          r.next_at = r.updated_at = NowMs();
          (void)store.UpdateNotification(r);
        }
      },
      [](const Status&) {});
}

void NotifyService::Finish(Lane* lane, NotificationRecord rec, const Outcome& outcome) {
  NotifierCommon common;
  bool removed;  // by a reconfig (not by the master stopping): nothing will retry it
  {
    std::lock_guard l(lane->mu);
    common = lane->common;
    removed = lane->stop && !aborting_;
  }
  const int64_t now = NowMs();
  rec.updated_at = now;
  rec.answer = outcome.answer;
  const std::string what = "notify " + lane->name + ": " + rec.event + " notice of build " +
                           std::to_string(rec.build_id);
  switch (outcome.kind) {
    case Outcome::Kind::kSent:
      rec.state = "sent";
      rec.sent_at = now;
      ++sent_;
      spdlog::info("{} sent ({})", what, outcome.answer);
      break;
    case Outcome::Kind::kRetry:
      if (removed) {
        rec.state = "failed";
        rec.answer = "notifier '" + lane->name +
                     "' was removed from grove.lua; last attempt: " + outcome.answer;
        ++failed_;
        spdlog::error("{} failed: {}", what, rec.answer);
      } else if (rec.attempts >= common.max_attempts) {
        rec.state = "failed";
        rec.answer =
            "gave up after " + std::to_string(rec.attempts) + " attempts: " + outcome.answer;
        ++failed_;
        spdlog::error("{} failed: {}", what, rec.answer);
      } else {
        rec.state = "retrying";
        rec.next_at = now + Backoff(common, rec.attempts);
        ++retried_;
        spdlog::warn("{} not delivered (attempt {} of {}), retrying in {} s: {}", what,
                     rec.attempts, common.max_attempts, (rec.next_at - now + 999) / 1000,
                     outcome.answer);
      }
      break;
    case Outcome::Kind::kFailed:
      rec.state = "failed";
      ++failed_;
      spdlog::error("{} failed: {}", what, outcome.answer);
      break;
  }
  metrics::NotifierDelivery(lane->name, rec.kind, rec.state);
  core_(
      [rec](Store& store) mutable {
        // A start notice that must be tried again is pointless once the build's end is queued:
        // it would arrive after it.
        NotificationRecord end;
        if (rec.event == "started" && rec.state == "retrying" &&
            store.FindNotification(rec.build_id, rec.notifier, "finished", &end).ok())
          rec.state = "superseded";
        Status st = store.UpdateNotification(rec);
        if (!st.ok())
          spdlog::error("notify {}: cannot store the outcome of notice {}: {}", rec.notifier,
                        rec.id, st.message());
      },
      [this, build = rec.build_id](const Status& st) {
        if (st.ok() && on_update_) on_update_(build);
      });
}

}  // namespace grove::notify
