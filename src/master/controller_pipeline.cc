// Controller, the pipeline half (issue 4): what a job carries besides its steps, what steps
// report back, build-level locks and collapsing of queued requests. Runs on the core thread.
#include <set>

#include "config/secrets.h"
#include "core/clock.h"
#include "core/interpolate.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/secret_mask.h"
#include "master/artifact_tokens.h"
#include "master/controller.h"

namespace grove {

namespace {

void CollectStepSecrets(const StepSpec& s, std::set<std::string>* names) {
  CollectSecretNames(s.command, names);
  for (const auto& a : s.argv) CollectSecretNames(a, names);
  for (const auto& [k, v] : s.env) CollectSecretNames(v, names);
  CollectSecretNames(s.workdir, names);
  CollectSecretNamesInJson(s.options, names);
}

// Masks every string in |j| (property values, test failure messages).
Json MaskJson(const Json& j, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return j;
  if (j.is_string()) return MaskSecrets(j.get<std::string>(), secrets);
  if (j.is_object() || j.is_array()) {
    Json copy = j;
    for (auto& item : copy) item = MaskJson(item, secrets);
    return copy;
  }
  return j;
}

std::string LockKey(const LockUse& l, const std::string& worker) {
  return l.kind == "worker" ? "worker:" + worker + ":" + l.name : "master:" + l.name;
}

std::string BranchOf(const RequestRecord& r) {
  if (r.source.is_object() && r.source.contains("branch") && r.source["branch"].is_string())
    return r.source["branch"].get<std::string>();
  if (r.properties.is_object() && r.properties.contains("branch") &&
      r.properties["branch"].is_string())
    return r.properties["branch"].get<std::string>();
  return "";
}

}  // namespace

void Controller::PrepareJob(Txn& txn, const JobKey& key, ActiveJob& job, const BuilderConfig& bc,
                            const RequestRecord& req, JobSpec* spec) {
  // The change's properties, unless the builder or the request set them.
  if (req.source.is_object()) {
    for (const char* k : {"branch", "revision", "repository"})
      if (req.source.contains(k) && !spec->properties.contains(k))
        spec->properties[k] = req.source[k];
  }
  // A new build is inserted with its properties complete (StartingProperties: what |spec| has,
  // and who runs it); a recovered one is read back.
  const int64_t build_id = EnsureBuild(txn, key, job, job.worker, &req);
  if (build_id && job.properties.is_null()) {
    BuildRecord b;
    if (txn.store().GetBuild(build_id, &b).ok()) {
      job.properties = std::move(b.properties);
      job.build_number = b.number;
    }
  }
  if (build_id && job.properties.is_object()) {
    spec->properties = job.properties;
    spec->properties["buildnumber"] = job.build_number;
    spec->properties["buildid"] = build_id;
    spec->build_id = build_id;
    if (artifact_tokens_ && StepsUseTokens(bc)) spec->token = artifact_tokens_->For(build_id);
  }
  // Only the secrets its steps name travel with the job.
  for (auto& [name, value] : JobSecrets(bc)) {
    job.secrets.push_back(value);
    spec->secrets[name] = std::move(value);
  }
}

std::map<std::string, std::string> Controller::JobSecrets(const BuilderConfig& bc) const {
  std::set<std::string> names;
  for (const auto& s : bc.steps) CollectStepSecrets(s, &names);
  std::map<std::string, std::string> out;
  for (const auto& name : names) {
    std::string value;
    Status st = config_internal::ResolveSecret(config_->base_dir, name, &value);
    if (!st.ok()) {
      spdlog::warn("builder {}: {}", bc.name, st.message());
      continue;
    }
    out[name] = std::move(value);
  }
  return out;
}

Json Controller::MaskJob(const ActiveJob& job, const Json& j) const {
  return MaskJson(j, job.secrets);
}

void Controller::HandleStepReport(Txn& txn, const JobKey& key, ActiveJob& job, const EventView& e) {
  if (!job.build_id) return;
  if (e.properties && !e.properties->empty() && MergeProperties(txn, job, *e.properties)) {
    job.build_dirty = true;  // written with the build's next write in this batch
    Defer(key, job);
  }
  if (e.tests) {
    Status st = txn.store().SetStepTests(job.build_id, e.step, MaskJson(*e.tests, job.secrets));
    if (!st.ok())
      spdlog::warn("build {}: cannot store test results: {}", job.build_id, st.message());
  }
}

bool Controller::MergeProperties(Txn& txn, ActiveJob& job, const Json& props) {
  if (!job.properties.is_object()) {
    // Not known yet (a job recovered from the store, adopted before its job was made again).
    BuildRecord b;
    if (!txn.store().GetBuild(job.build_id, &b).ok() || !b.properties.is_object()) return false;
    job.properties = std::move(b.properties);
    job.build_number = b.number;
  }
  for (auto& [k, v] : props.items()) job.properties[k] = MaskJson(v, job.secrets);
  return true;
}

std::string Controller::MaskLog(const ActiveJob& job, std::string data) const {
  // The worker masks too (and handles secrets split across chunks); this catches workers that
  // do not, within a chunk.
  if (job.secrets.empty()) return data;
  return MaskSecrets(data, job.secrets);
}

// In distributed mode (no |worker| yet: RabbitMQ picks it) only master locks apply.
bool Controller::LocksFree(const BuilderConfig& bc, const std::string& worker) const {
  for (const auto& l : bc.locks) {
    if (l.kind == "worker" && worker.empty()) continue;
    auto it = lock_counts_.find(LockKey(l, worker));
    if (it != lock_counts_.end() && it->second >= l.max) return false;
  }
  return true;
}

ConnectedWorker* Controller::PickWithFreeLocks(const BuilderConfig& bc) {
  const ConnectedWorker* best = nullptr;
  for (const auto& [name, w] : workers_.all()) {
    if (w.free() <= 0 || !WorkerFits(w, bc) || !LocksFree(bc, name)) continue;
    if (!best || w.running.size() < best->running.size()) best = &w;
  }
  return best ? workers_.Find(best->name) : nullptr;
}

void Controller::TakeLocks(const BuilderConfig& bc, const std::string& worker, ActiveJob& job) {
  for (const auto& l : bc.locks) {
    if (l.kind == "worker" && worker.empty()) continue;
    std::string key = LockKey(l, worker);
    ++lock_counts_[key];
    job.locks.push_back(key);
  }
}

void Controller::ReleaseLocks(ActiveJob& job) {
  for (const auto& key : job.locks) {
    auto it = lock_counts_.find(key);
    if (it != lock_counts_.end() && --it->second <= 0) lock_counts_.erase(it);
  }
  job.locks.clear();
}

void Controller::CollapseOlder(Txn& txn, const RequestRecord& newer) {
  const BuilderConfig* bc = config_->FindBuilder(newer.builder);
  if (!bc || !bc->collapse) return;
  const std::string branch = BranchOf(newer);
  const int64_t now = NowMs();
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->builder != newer.builder || it->id >= newer.id) {
      ++it;
      continue;
    }
    RequestRecord older;
    if (!txn.store().GetRequest(it->id, &older).ok() || BranchOf(older) != branch) {
      ++it;
      continue;
    }
    Status st = txn.store().SupersedeRequest(older.id, newer.id, now);
    if (!st.ok()) {
      spdlog::warn("cannot mark request {} superseded: {}", older.id, st.message());
      ++it;
      continue;
    }
    spdlog::info("request {} superseded by request {} (builder {} collapses)", older.id, newer.id,
                 newer.builder);
    Notify(txn, {{"type", "request"},
                 {"id", older.id},
                 {"builder", older.builder},
                 {"state", "superseded"},
                 {"superseded_by", newer.id}});
    it = queue_.Erase(it);
  }
}

}  // namespace grove
