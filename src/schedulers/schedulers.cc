#include "schedulers/schedulers.h"

#include <fnmatch.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "core/clock.h"
#include "core/log.h"
#include "master/controller.h"

namespace grove {

namespace asio = boost::asio;

namespace {

int64_t NowS() {
  return NowMs() / 1000;
}

std::string IsoUtc(int64_t epoch_s) {
  static const CronSchedule utc = [] {
    CronSchedule s;
    (void)CronSchedule::Parse("* * * * *", "", &s);
    return s;
  }();
  return FormatIsoInZone(epoch_s, utc);
}

Json SourceOf(const ChangeRecord& c) {
  return {{"repository", c.repository}, {"branch", c.branch}, {"revision", c.revision}};
}

}  // namespace

bool BranchMatches(const std::vector<std::string>& patterns, const std::string& branch) {
  if (patterns.empty()) return true;
  for (const std::string& p : patterns)
    if (p == branch || fnmatch(p.c_str(), branch.c_str(), 0) == 0) return true;
  return false;
}

bool FilesMatch(const std::vector<std::string>& globs, const std::vector<std::string>& files) {
  if (globs.empty()) return true;
  for (const std::string& f : files)
    for (const std::string& g : globs)
      if (fnmatch(g.c_str(), f.c_str(), 0) == 0) return true;
  return false;
}

Schedulers::Schedulers(CoreLoop& core, asio::io_context& net, Controller& controller,
                       std::shared_ptr<const Config> config)
    : core_(core),
      net_(net),
      controller_(controller),
      config_(std::move(config)),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  core_.OnRollback([this](Store&) {
    RestoreCommitted();
    return Status::Ok();
  });
}

void Schedulers::KeepIfCommitted(Txn& txn) {
  txn.AfterCommit([this](const Status& st) {
    if (!st.ok()) return;
    committed_timed_ = timed_;
    committed_pending_ = pending_;
    committed_config_ = config_;
  });
}

void Schedulers::RestoreCommitted() {
  // A fire whose request and stored slot were rolled back is due again (and retried after
  // the core loop's backoff); a tree-stable wait that ended in a rolled-back request waits
  // again.
  timed_ = committed_timed_;
  pending_ = committed_pending_;
  if (committed_config_ != config_) {
    // The first load, or a reconfiguration, was rolled back: done again.
    core_.Post([this](Txn& txn) { ApplyConfig(txn); });
    return;
  }
  Arm();
  for (auto& [key, p] : pending_) {
    const std::string name = key.substr(0, key.find('\n'));
    for (const OnChangeSchedulerConfig& s : config_->on_change_schedulers) {
      if (s.name != name) continue;
      p.generation = ++tree_generation_;
      ArmTreeStable(key, s.tree_stable_s, p.generation);
    }
  }
}

Schedulers::~Schedulers() {
  *alive_ = false;
}

void Schedulers::Start() {
  core_.Post([this](Txn& txn) { Load(txn); });
}

void Schedulers::Reconfigure(std::shared_ptr<const Config> config) {
  core_.Post([this, config = std::move(config)](Txn& txn) {
    config_ = config;
    ApplyConfig(txn);
  });
}

void Schedulers::SetActive(bool active) {
  core_.Post([this, active](Txn& txn) {
    if (active == active_) return;
    active_ = active;
    if (active) {
      Load(txn);  // what is in memory may be stale: another master held the lease meanwhile
      return;
    }
    timed_.clear();
    ++arm_generation_;  // the armed timer finds nothing to do
    // Should this batch roll back, the entries are loaded again from the store, not restored
    // from memory older than the other master's fires.
    committed_timed_.clear();
    committed_config_ = nullptr;
  });
}

void Schedulers::ApplyConfig(Txn& txn) {
  // Tree-stable waits of schedulers that are gone are dropped.
  for (auto it = pending_.begin(); it != pending_.end();) {
    std::string name = it->first.substr(0, it->first.find('\n'));
    bool kept =
        std::any_of(config_->on_change_schedulers.begin(), config_->on_change_schedulers.end(),
                    [&](const OnChangeSchedulerConfig& s) { return s.name == name; });
    it = kept ? std::next(it) : pending_.erase(it);
  }
  Load(txn);
}

int64_t Schedulers::NextAfter(const Timed& t, int64_t after_s) const {
  if (t.kind == "cron") return t.cron.Next(after_s).value_or(0);
  return after_s + t.every_s;
}

void Schedulers::Load(Txn& txn) {
  timed_.clear();
  if (!active_) {
    KeepIfCommitted(txn);
    ++arm_generation_;
    return;
  }
  std::vector<Timed> entries;
  for (const CronSchedulerConfig& c : config_->cron_schedulers) {
    Timed t;
    t.kind = "cron";
    t.name = c.name;
    if (!CronSchedule::Parse(c.expr, c.tz, &t.cron).ok()) continue;  // checked by the config
    t.builders = c.builders;
    t.catch_up = c.catch_up;
    t.properties = c.properties;
    entries.push_back(std::move(t));
  }
  for (const PeriodicSchedulerConfig& p : config_->periodic_schedulers) {
    Timed t;
    t.kind = "periodic";
    t.name = p.name;
    t.every_s = p.every_s;
    t.builders = p.builders;
    t.catch_up = p.catch_up;
    t.only_if_changed = p.only_if_changed;
    t.properties = p.properties;
    entries.push_back(std::move(t));
  }
  const int64_t now = NowS();
  for (Timed& t : entries) {
    SchedulerState state;
    Status st = txn.store().GetSchedulerState(t.name, &state);
    if (st.code() == Status::Code::kNotFound) {
      // First sight: count from now (no build at the first start), and remember that, so a
      // periodic entry keeps its rhythm across restarts.
      state.last_fire = now;
      (void)txn.store().PutSchedulerState(t.name, state);
    } else if (!st.ok()) {
      spdlog::error("scheduler {}: cannot read its state: {}", t.name, st.message());
      continue;
    }
    t.data = state.data;
    int64_t next = NextAfter(t, state.last_fire);
    if (next != 0 && next <= now) {
      if (t.catch_up == "once") {
        spdlog::info("scheduler {}: slot {} was missed while the master was down; firing once",
                     t.name, IsoUtc(next));
        next = now;  // fired by the Tick below
        t.catching_up = true;
      } else {
        spdlog::info(
            "scheduler {}: skipping slots missed while the master was down (catch_up "
            "= \"none\")",
            t.name);
        if (t.kind == "periodic")
          next = state.last_fire + ((now - state.last_fire) / t.every_s + 1) * t.every_s;
        else
          next = NextAfter(t, now);
      }
    }
    t.next = next;
    timed_.emplace(t.name, std::move(t));
  }
  Tick(txn);
}

void Schedulers::Tick(Txn& txn) {
  const int64_t now_ms = NowMs();
  for (auto& [name, t] : timed_) {
    if (t.next == 0 || t.next * 1000 > now_ms) continue;
    int64_t slot = t.next;
    Fire(txn, t, slot);
    // A master that was busy past several slots fires once, then goes on from now.
    t.next = NextAfter(t, std::max(slot, now_ms / 1000));
  }
  KeepIfCommitted(txn);
  Arm();
}

void Schedulers::Fire(Txn& txn, Timed& t, int64_t slot) {
  SchedulerState state;
  state.last_fire = slot;
  state.data = t.data;
  bool fire = true;
  if (!t.only_if_changed.empty()) {
    int64_t latest = 0;
    (void)txn.store().LatestChangeId(t.only_if_changed, &latest);
    int64_t seen = t.data.value("last_change", int64_t{0});
    fire = latest > seen;
    state.data["last_change"] = latest;
    if (!fire)
      spdlog::info("scheduler {}: no new changes in {}; not building", t.name, t.only_if_changed);
  }
  bool advanced = false;
  Status st = txn.store().AdvanceSchedulerState(t.name, state, &advanced);
  if (!st.ok()) {
    spdlog::error("scheduler {}: cannot store its state, not firing: {}", t.name, st.message());
    return;
  }
  if (!advanced) {
    // Another master sharing the store fired this slot (or a later one) already.
    spdlog::info("scheduler {}: slot {} was already fired by another master", t.name, IsoUtc(slot));
    t.catching_up = false;
    SchedulerState stored;
    if (txn.store().GetSchedulerState(t.name, &stored).ok()) t.data = stored.data;
    return;
  }
  t.data = state.data;
  bool catching_up = std::exchange(t.catching_up, false);
  if (!fire) return;
  for (const std::string& builder : t.builders) {
    RequestRecord r;
    r.builder = builder;
    r.reason = t.kind + " '" + t.name + "' at " + IsoUtc(slot) +
               (catching_up ? " (catching up on slots missed while the master was down)" : "");
    r.properties = t.properties;
    r.properties["scheduler"] = t.name;
    st = controller_.Submit(txn, &r);
    if (!st.ok())
      spdlog::error("scheduler {}: cannot queue builder {}: {}", t.name, builder, st.message());
    else
      spdlog::info("scheduler {} fired: request {} for {}", t.name, r.id, builder);
  }
}

void Schedulers::Arm() {
  int64_t earliest = 0;
  for (const auto& [name, t] : timed_)
    if (t.next != 0 && (earliest == 0 || t.next < earliest)) earliest = t.next;
  uint64_t generation = ++arm_generation_;
  if (earliest == 0) return;
  int64_t delay_ms = std::max<int64_t>(0, earliest * 1000 - NowMs());
  // Long waits are cut in pieces, so a clock that jumps is noticed within the hour.
  delay_ms = std::min<int64_t>(delay_ms, 3600 * 1000);
  auto timer = std::make_shared<asio::steady_timer>(net_, std::chrono::milliseconds(delay_ms));
  timer->async_wait([this, timer, generation, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    core_.Post([this, generation](Txn& txn) {
      if (generation == arm_generation_) Tick(txn);
    });
  });
}

void Schedulers::AddChanges(std::vector<ChangeRecord> changes, std::string state_key, Json state,
                            std::function<void(Status)> done) {
  core_.Post([this, changes = std::move(changes), state_key = std::move(state_key),
              state = std::move(state), done = std::move(done)](Txn& txn) mutable {
    Status stored = StoreNewChanges(txn, &changes);
    if (!stored.ok()) return done(stored);
    if (!state_key.empty()) {
      SchedulerState s;
      s.data = std::move(state);
      Status st = txn.store().PutSchedulerState(state_key, s);
      if (!st.ok()) return done(st);
    }
    MatchChanges(txn, changes);
    txn.AfterCommit(std::move(done));
  });
}

void Schedulers::AddHookChanges(std::vector<ChangeRecord> changes, std::string provider,
                                std::string delivery, std::function<void(HookResult)> done) {
  core_.Post([this, changes = std::move(changes), provider = std::move(provider),
              delivery = std::move(delivery), done = std::move(done)](Txn& txn) mutable {
    HookResult result;
    // Answered after the commit even for a duplicate: the first delivery may be in this very
    // transaction, and its fate is this one's.
    auto answer = [&txn, &result, &done] {
      txn.AfterCommit([result, done = std::move(done)](const Status& st) mutable {
        if (result.status.ok()) result.status = st;
        done(std::move(result));
      });
    };
    if (!delivery.empty()) {
      bool first = true;
      result.status =
          txn.store().RememberDelivery(provider, delivery, NowMs(), kDeliveryKeepMs, &first);
      result.duplicate_delivery = !first;
      if (!result.status.ok() || result.duplicate_delivery) return answer();
    }
    result.status = StoreNewChanges(txn, &changes);
    if (!result.status.ok()) return answer();
    result.recorded = changes.size();
    MatchChanges(txn, changes);
    answer();
  });
}

Status Schedulers::StoreNewChanges(Txn& txn, std::vector<ChangeRecord>* changes) {
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_branch;
  for (size_t i = 0; i < changes->size(); ++i)
    by_branch[{(*changes)[i].repository, (*changes)[i].branch}].push_back(i);
  std::vector<bool> known(changes->size(), false);
  for (const auto& [key, list] : by_branch) {
    std::string last;
    GROVE_RETURN_IF_ERROR(txn.store().LastChangeRevision(key.first, key.second, &last));
    if (last.empty()) continue;
    // The head already recorded: all of it is known. Else what precedes the stored head (the
    // other change source recorded part of this push) is known.
    size_t upto = (*changes)[list.back()].revision == last ? list.size() : 0;
    for (size_t k = list.size(); upto == 0 && k-- > 0;)
      if ((*changes)[list[k]].revision == last) upto = k + 1;
    for (size_t k = 0; k < upto; ++k) known[list[k]] = true;
  }
  std::vector<ChangeRecord> fresh;
  for (size_t i = 0; i < changes->size(); ++i) {
    if (known[i]) continue;
    GROVE_RETURN_IF_ERROR(txn.store().AddChange(&(*changes)[i]));
    fresh.push_back(std::move((*changes)[i]));
  }
  if (fresh.size() != changes->size())
    spdlog::info("changes: {} of {} already recorded, not recorded again",
                 changes->size() - fresh.size(), changes->size());
  *changes = std::move(fresh);
  return Status::Ok();
}

void Schedulers::LoadState(std::string key, std::function<void(Json)> done) {
  core_.Post([key = std::move(key), done = std::move(done)](Txn& txn) {
    SchedulerState s;
    done(txn.store().GetSchedulerState(key, &s).ok() ? s.data : Json::object());
  });
}

void Schedulers::MatchChanges(Txn& txn, const std::vector<ChangeRecord>& changes) {
  for (const OnChangeSchedulerConfig& s : config_->on_change_schedulers) {
    // Per branch, in arrival order: the changes this scheduler cares about, and the branch's
    // head: what is built is the head, even when the last change that matters is older (a
    // push whose last commit touches no file of |files| still builds its newest commit).
    std::map<std::string, std::vector<const ChangeRecord*>> by_branch;
    std::map<std::string, const ChangeRecord*> heads;
    for (const ChangeRecord& c : changes) {
      if (!s.source.empty() && c.repository != s.source) continue;
      if (!BranchMatches(s.branches, c.branch)) continue;
      heads[c.branch] = &c;
      if (!FilesMatch(s.files, c.files)) continue;
      by_branch[c.branch].push_back(&c);
    }
    for (const auto& [branch, head] : heads) {
      std::string key = s.name + "\n" + branch;
      auto list = by_branch.find(branch);
      if (list == by_branch.end()) {
        // Nothing that matters, but a build already waiting for a stable tree is of the head.
        auto p = pending_.find(key);
        if (p != pending_.end()) p->second.newest = *head;
        continue;
      }
      std::vector<int64_t> ids;
      for (const ChangeRecord* c : list->second) ids.push_back(c->id);
      if (s.tree_stable_s <= 0) {
        SubmitForChanges(txn, s, ids, *head);
        continue;
      }
      Pending& p = pending_[key];
      p.changes.insert(p.changes.end(), ids.begin(), ids.end());
      p.newest = *head;
      p.generation = ++tree_generation_;
      ArmTreeStable(key, s.tree_stable_s, p.generation);
      KeepIfCommitted(txn);
    }
  }
}

void Schedulers::ArmTreeStable(const std::string& key, int64_t delay_s, uint64_t generation) {
  auto timer = std::make_shared<asio::steady_timer>(net_, std::chrono::seconds(delay_s));
  timer->async_wait(
      [this, timer, key, generation, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive) return;
        core_.Post([this, key, generation](Txn& txn) {
          auto it = pending_.find(key);
          if (it == pending_.end() || it->second.generation != generation) return;  // not quiet
          Pending p = std::move(it->second);
          pending_.erase(it);
          KeepIfCommitted(txn);
          std::string name = key.substr(0, key.find('\n'));
          for (const OnChangeSchedulerConfig& s : config_->on_change_schedulers)
            if (s.name == name) SubmitForChanges(txn, s, p.changes, p.newest);
        });
      });
}

void Schedulers::SubmitForChanges(Txn& txn, const OnChangeSchedulerConfig& s,
                                  const std::vector<int64_t>& ids, const ChangeRecord& newest) {
  for (const std::string& builder : s.builders) {
    RequestRecord r;
    r.builder = builder;
    r.reason = "on_change '" + s.name + "': " + std::to_string(ids.size()) + " change" +
               (ids.size() == 1 ? "" : "s") + " on " + newest.branch;
    r.properties = s.properties;
    r.properties["scheduler"] = s.name;
    r.properties["branch"] = newest.branch;
    r.properties["revision"] = newest.revision;
    r.properties["repository"] = newest.repository;
    r.source = SourceOf(newest);
    Status st = controller_.Submit(txn, &r, ids);
    if (!st.ok())
      spdlog::error("scheduler {}: cannot queue builder {}: {}", s.name, builder, st.message());
    else
      spdlog::info("scheduler {}: request {} for {} at {} {}", s.name, r.id, builder, newest.branch,
                   newest.revision);
  }
}

void Schedulers::Trigger(int64_t parent, int attempt, std::string target, Json properties,
                         std::function<void(Status, std::vector<int64_t>)> done) {
  core_.Post([this, parent, attempt, target = std::move(target), properties = std::move(properties),
              done = std::move(done)](Txn& txn) {
    RequestRecord req;
    Status st = txn.store().GetRequest(parent, &req);
    if (!st.ok() || req.state != "claimed" || req.attempt != attempt)
      return done(Status::Unauthorized("the job token's build is not running"), {});
    std::vector<std::string> builders;
    for (const TriggerableSchedulerConfig& t : config_->triggerable_schedulers)
      if (t.name == target) builders = t.builders;
    if (builders.empty() && config_->FindBuilder(target)) builders = {target};
    if (builders.empty())
      return done(Status::NotFound("no triggerable scheduler or builder named " + target), {});
    std::vector<ChangeRecord> changes;
    std::vector<int64_t> change_ids;
    if (txn.store().ChangesOfRequest(parent, &changes).ok())
      for (const ChangeRecord& c : changes) change_ids.push_back(c.id);
    std::vector<int64_t> ids;
    for (const std::string& builder : builders) {
      RequestRecord r;
      r.builder = builder;
      r.reason = "triggered by " + req.builder + " (request " + std::to_string(parent) + ")";
      r.properties = properties;
      r.properties["scheduler"] = target;
      r.properties["parent_request"] = parent;
      r.source = req.source;  // the triggered builds build the same source
      st = controller_.Submit(txn, &r, change_ids);
      if (!st.ok()) return done(st, {});
      ids.push_back(r.id);
    }
    txn.AfterCommit(
        [done, ids](const Status& st) { done(st, st.ok() ? ids : std::vector<int64_t>{}); });
  });
}

void Schedulers::Describe(std::function<void(Json)> done) {
  core_.Post([this, done = std::move(done)](Txn&) {
    Json out = Json::array();
    auto next_json = [](int64_t next, Json& j) {
      if (next == 0) {
        j["next_fire"] = nullptr;
        j["next_fire_ms"] = nullptr;
      } else {
        j["next_fire"] = IsoUtc(next);
        j["next_fire_ms"] = next * 1000;
      }
    };
    for (const ForceSchedulerConfig& f : config_->force_schedulers) {
      Json params = Json::array();
      for (const ForceParamConfig& p : f.params)
        params.push_back({{"name", p.name},
                          {"default", p.default_value},
                          {"choices", p.choices},
                          {"required", p.required}});
      out.push_back(
          {{"name", f.name}, {"kind", "force"}, {"builders", f.builders}, {"params", params}});
    }
    for (const CronSchedulerConfig& c : config_->cron_schedulers) {
      Json j = {{"name", c.name},
                {"kind", "cron"},
                {"builders", c.builders},
                {"expr", c.expr},
                {"tz", c.tz.empty() ? "UTC" : c.tz},
                {"catch_up", c.catch_up}};
      auto it = timed_.find(c.name);
      next_json(it == timed_.end() ? 0 : it->second.next, j);
      if (it != timed_.end() && it->second.next)
        j["next_fire_local"] = FormatIsoInZone(it->second.next, it->second.cron);
      out.push_back(j);
    }
    for (const PeriodicSchedulerConfig& p : config_->periodic_schedulers) {
      Json j = {{"name", p.name},
                {"kind", "periodic"},
                {"builders", p.builders},
                {"every_s", p.every_s},
                {"catch_up", p.catch_up}};
      if (!p.only_if_changed.empty()) j["only_if_changed"] = p.only_if_changed;
      auto it = timed_.find(p.name);
      next_json(it == timed_.end() ? 0 : it->second.next, j);
      out.push_back(j);
    }
    for (const OnChangeSchedulerConfig& o : config_->on_change_schedulers) {
      Json j = {{"name", o.name},
                {"kind", "on_change"},
                {"builders", o.builders},
                {"source", o.source},
                {"branches", o.branches},
                {"files", o.files},
                {"tree_stable_s", o.tree_stable_s}};
      next_json(0, j);
      out.push_back(j);
    }
    for (const TriggerableSchedulerConfig& t : config_->triggerable_schedulers) {
      Json j = {{"name", t.name}, {"kind", "triggerable"}, {"builders", t.builders}};
      next_json(0, j);
      out.push_back(j);
    }
    done(out);
  });
}

}  // namespace grove
