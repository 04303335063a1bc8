#include "retention/pruner.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "metrics/master_metrics.h"
#include "store/sql_store.h"

namespace grove {

namespace {

constexpr int kBuildBatch = 200;  // builds (and their rows) per transaction
constexpr int kLogBatch = 50;     // builds whose log chunks go in one transaction
constexpr int kChangeBatch = 200;
constexpr int kVacuumPages = 2000;  // pages given back per incremental_vacuum step
// Between two batches: the core loop (and the read pool) get the database first.
constexpr auto kPause = std::chrono::milliseconds(5);

struct RunReport {
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::map<std::string, int64_t> pruned{
      {"builds", 0}, {"logs", 0}, {"artifacts", 0}, {"changes", 0}};
  int64_t batches = 0;
  int64_t longest_batch_ms = 0;
  int64_t vacuumed_pages = 0;
  std::string error;
};

RetentionConfig Effective(const Config& c, const std::string& builder) {
  RetentionConfig r = c.retention;
  if (const BuilderConfig* bc = c.FindBuilder(builder)) {
    if (bc->retention.logs_ms >= 0) r.logs_ms = bc->retention.logs_ms;
    if (bc->retention.builds_ms >= 0) r.builds_ms = bc->retention.builds_ms;
    if (bc->retention.artifacts_ms >= 0) r.artifacts_ms = bc->retention.artifacts_ms;
  }
  return r;
}

Json RetentionJson(const RetentionConfig& r) {
  auto v = [](int64_t ms) -> Json {
    if (ms < 0) return nullptr;
    if (ms == 0) return "forever";
    return ms / 1000;  // seconds
  };
  return {{"logs", v(r.logs_ms)},
          {"builds", v(r.builds_ms)},
          {"artifacts", v(r.artifacts_ms)},
          {"changes", v(r.changes_ms)}};
}

}  // namespace

struct Pruner::Impl {
  std::function<std::shared_ptr<const Config>()> config;
  PrunerOptions opts;
  std::unique_ptr<sql::Db> db;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool wanted = false;
  bool running = false;
  RunReport last;
  bool ran = false;
  std::map<std::string, int64_t> totals{
      {"builds", 0}, {"logs", 0}, {"artifacts", 0}, {"changes", 0}};
  std::thread thread;

  bool stopping() {
    std::lock_guard l(mu);
    return stop;
  }

  void Loop() {
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.first_after_ms);
    for (;;) {
      {
        std::unique_lock l(mu);
        cv.wait_until(l, next, [&] { return stop || wanted; });
        if (stop) return;
        wanted = false;
        running = true;
      }
      RunReport r = RunOnce();
      {
        std::lock_guard l(mu);
        running = false;
        last = r;
        ran = true;
        for (const auto& [k, n] : r.pruned) totals[k] += n;
      }
      for (const auto& [k, n] : r.pruned)
        if (n) metrics::Pruned(k, static_cast<uint64_t>(n));
      if (!r.error.empty())
        spdlog::error("retention: {}", r.error);
      else if (r.pruned["builds"] + r.pruned["logs"] + r.pruned["artifacts"] + r.pruned["changes"])
        spdlog::info(
            "retention: pruned {} builds, the logs of {}, the artifacts of {}, {} changes "
            "in {} batches ({} ms)",
            r.pruned["builds"], r.pruned["logs"], r.pruned["artifacts"], r.pruned["changes"],
            r.batches, r.finished_at - r.started_at);
      next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.every_ms);
    }
  }

  // Ids from |sql| (one int column), bound with |binds|.
  Status Ids(const std::string& sql, const std::vector<std::variant<int64_t, std::string>>& binds,
             std::vector<int64_t>* out) {
    out->clear();
    sql::Query q;
    GROVE_RETURN_IF_ERROR(db->Prepare(sql, &q));
    for (size_t i = 0; i < binds.size(); ++i) {
      if (std::holds_alternative<int64_t>(binds[i]))
        q.Bind(static_cast<int>(i + 1), std::get<int64_t>(binds[i]));
      else
        q.Bind(static_cast<int>(i + 1), std::string_view(std::get<std::string>(binds[i])));
    }
    bool row = false;
    while (true) {
      GROVE_RETURN_IF_ERROR(q.Step(&row));
      if (!row) break;
      out->push_back(q.Int(0));
    }
    return Status::Ok();
  }

  Status Run(const std::string& sql, int64_t id) {
    sql::Query q;
    GROVE_RETURN_IF_ERROR(db->Prepare(sql, &q));
    q.Bind(1, id);
    return q.Run();
  }

  // One short write transaction running |body|; counted and timed.
  Status Batch(RunReport* r, const std::function<Status()>& body) {
    const auto start = std::chrono::steady_clock::now();
    GROVE_RETURN_IF_ERROR(db->BeginWrite());
    Status st = body();
    if (st.ok()) st = db->Commit();
    if (!st.ok()) (void)db->Rollback();
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    r->batches += 1;
    r->longest_batch_ms = std::max(r->longest_batch_ms, ms);
    std::this_thread::sleep_for(kPause);
    return st;
  }

  // Finished builds of |builder| before |cutoff| that may go: not the builder's newest, not one
  // whose request is still queued or running. |extra|: one more condition on b.
  std::string Candidates(const std::string& extra, int limit) const {
    return "SELECT b.id FROM builds b WHERE b.builder = $1 AND b.state = 'finished' AND "
           "b.finished_at < $2 AND b.number < (SELECT MAX(n.number) FROM builds n WHERE "
           "n.builder = $1) AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = b.request_id "
           "AND r.state IN ('queued', 'claimed'))" +
           extra + " ORDER BY b.id LIMIT " + std::to_string(limit);
  }

  void RemoveArtifactFiles(const std::vector<int64_t>& ids) {
    for (int64_t id : ids) {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::path(opts.artifacts_dir) / std::to_string(id),
                                  ec);
      if (ec)
        spdlog::warn("retention: cannot remove the artifacts of build {}: {}", id, ec.message());
    }
  }

  Status PruneBuilder(const std::string& builder, const RetentionConfig& rc, int64_t now,
                      RunReport* r) {
    std::vector<int64_t> ids;
    if (rc.builds_ms > 0) {
      while (!stopping()) {
        GROVE_RETURN_IF_ERROR(
            Ids(Candidates("", kBuildBatch), {builder, now - rc.builds_ms}, &ids));
        if (ids.empty()) break;
        GROVE_RETURN_IF_ERROR(Batch(r, [&] {
          for (int64_t id : ids) {
            int64_t request = 0;
            std::vector<int64_t> req;
            GROVE_RETURN_IF_ERROR(Ids("SELECT request_id FROM builds WHERE id = $1", {id}, &req));
            if (!req.empty()) request = req[0];
            for (const char* sql : {"DELETE FROM log_chunks WHERE build_id = $1",
                                    "DELETE FROM step_tests WHERE build_id = $1",
                                    "DELETE FROM steps WHERE build_id = $1",
                                    "DELETE FROM artifacts WHERE build_id = $1",
                                    "DELETE FROM notifications WHERE build_id = $1",
                                    "DELETE FROM builds WHERE id = $1"})
              GROVE_RETURN_IF_ERROR(Run(sql, id));
            if (!request) continue;
            // Its request goes too once finished and without builds: nothing shows it any more.
            std::vector<int64_t> left;
            GROVE_RETURN_IF_ERROR(Ids(
                "SELECT r.id FROM requests r WHERE r.id = $1 AND r.state IN ('finished', "
                "'cancelled') AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.request_id = r.id)",
                {request}, &left));
            if (left.empty()) continue;
            for (const char* sql : {"DELETE FROM request_changes WHERE request_id = $1",
                                    "DELETE FROM request_superseded WHERE request_id = $1",
                                    "DELETE FROM request_superseded WHERE by_request = $1",
                                    "DELETE FROM requests WHERE id = $1"})
              GROVE_RETURN_IF_ERROR(Run(sql, request));
          }
          return Status::Ok();
        }));
        RemoveArtifactFiles(ids);
        r->pruned["builds"] += static_cast<int64_t>(ids.size());
      }
    }
    if (rc.logs_ms > 0) {
      while (!stopping()) {
        GROVE_RETURN_IF_ERROR(
            Ids(Candidates(" AND EXISTS (SELECT 1 FROM log_chunks c WHERE c.build_id = b.id)",
                           kLogBatch),
                {builder, now - rc.logs_ms}, &ids));
        if (ids.empty()) break;
        GROVE_RETURN_IF_ERROR(Batch(r, [&] {
          for (int64_t id : ids)
            GROVE_RETURN_IF_ERROR(Run("DELETE FROM log_chunks WHERE build_id = $1", id));
          return Status::Ok();
        }));
        r->pruned["logs"] += static_cast<int64_t>(ids.size());
      }
    }
    if (rc.artifacts_ms > 0) {
      while (!stopping()) {
        GROVE_RETURN_IF_ERROR(
            Ids(Candidates(" AND EXISTS (SELECT 1 FROM artifacts a WHERE a.build_id = b.id)",
                           kBuildBatch),
                {builder, now - rc.artifacts_ms}, &ids));
        if (ids.empty()) break;
        GROVE_RETURN_IF_ERROR(Batch(r, [&] {
          for (int64_t id : ids)
            GROVE_RETURN_IF_ERROR(Run("DELETE FROM artifacts WHERE build_id = $1", id));
          return Status::Ok();
        }));
        // The rows go first: a file without a row is never served, a row without a file would be.
        RemoveArtifactFiles(ids);
        r->pruned["artifacts"] += static_cast<int64_t>(ids.size());
      }
    }
    return Status::Ok();
  }

  Status PruneChanges(int64_t cutoff, RunReport* r) {
    std::vector<int64_t> ids;
    while (!stopping()) {
      GROVE_RETURN_IF_ERROR(Ids(
          "SELECT c.id FROM changes c WHERE c.created_at < $1 AND c.id < (SELECT MAX(n.id) FROM "
          "changes n WHERE n.repository = c.repository AND n.branch = c.branch) AND NOT EXISTS "
          "(SELECT 1 FROM request_changes rc JOIN requests q ON q.id = rc.request_id WHERE "
          "rc.change_id = c.id AND q.state IN ('queued', 'claimed')) ORDER BY c.id LIMIT " +
              std::to_string(kChangeBatch),
          {cutoff}, &ids));
      if (ids.empty()) break;
      GROVE_RETURN_IF_ERROR(Batch(r, [&] {
        for (int64_t id : ids) {
          GROVE_RETURN_IF_ERROR(Run("DELETE FROM request_changes WHERE change_id = $1", id));
          GROVE_RETURN_IF_ERROR(Run("DELETE FROM changes WHERE id = $1", id));
        }
        return Status::Ok();
      }));
      r->pruned["changes"] += static_cast<int64_t>(ids.size());
    }
    return Status::Ok();
  }

  // SQLite: freed pages go back to the file system, a bounded number per step.
  Status GiveSpaceBack(RunReport* r) {
    if (db->dialect() != sql::Dialect::kSqlite) return Status::Ok();  // autovacuum
    for (int i = 0; i < 100000 && !stopping(); ++i) {
      std::vector<int64_t> free;
      GROVE_RETURN_IF_ERROR(Ids("PRAGMA freelist_count", {}, &free));
      if (free.empty() || free[0] == 0) break;
      std::vector<int64_t> mode;
      GROVE_RETURN_IF_ERROR(Ids("PRAGMA auto_vacuum", {}, &mode));
      if (mode.empty() || mode[0] != 2) break;  // not INCREMENTAL (docs/operations.md)
      const int64_t n = std::min<int64_t>(free[0], kVacuumPages);
      GROVE_RETURN_IF_ERROR(db->Exec("PRAGMA incremental_vacuum(" + std::to_string(n) + ")"));
      r->vacuumed_pages += n;
      std::this_thread::sleep_for(kPause);
    }
    // The file shrinks when the WAL is checkpointed; busy readers only delay that.
    (void)db->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return Status::Ok();
  }

  RunReport RunOnce() {
    RunReport r;
    r.started_at = NowMs();
    auto cfg = config();
    Status st;
    if (!db) st = OpenMigratedDb(opts.store_url, opts.base_dir, opts.store_password, &db);
    std::vector<std::string> builders;
    if (st.ok()) {
      sql::Query q;
      st = db->Prepare("SELECT DISTINCT builder FROM builds", &q);
      bool row = false;
      while (st.ok() && (st = q.Step(&row)).ok() && row) builders.emplace_back(q.Text(0));
    }
    const int64_t now = r.started_at;
    for (size_t i = 0; st.ok() && i < builders.size() && !stopping(); ++i)
      st = PruneBuilder(builders[i], Effective(*cfg, builders[i]), now, &r);
    if (st.ok() && cfg->retention.changes_ms > 0 && !stopping())
      st = PruneChanges(now - cfg->retention.changes_ms, &r);
    if (st.ok()) st = GiveSpaceBack(&r);
    if (!st.ok()) {
      r.error = st.message();
      db.reset();  // a connection that failed is opened afresh next time
    }
    r.finished_at = NowMs();
    if (r.pruned["builds"] > 0 && opts.on_builds_pruned) opts.on_builds_pruned();
    return r;
  }
};

Pruner::Pruner(std::function<std::shared_ptr<const Config>()> config, PrunerOptions opts)
    : impl_(std::make_shared<Impl>()) {
  impl_->config = std::move(config);
  impl_->opts = std::move(opts);
}

Pruner::~Pruner() {
  Stop();
}

void Pruner::Start() {
  impl_->thread = std::thread([impl = impl_] { impl->Loop(); });
}

void Pruner::Stop() {
  {
    std::lock_guard l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool Pruner::RunNow() {
  {
    std::lock_guard l(impl_->mu);
    if (impl_->stop) return false;
    impl_->wanted = true;
  }
  impl_->cv.notify_all();
  return true;
}

Json Pruner::Describe() const {
  auto cfg = impl_->config();
  Json builders = Json::object();
  for (const auto& b : cfg->builders) {
    const RetentionConfig& o = b.retention;
    if (o.logs_ms >= 0 || o.builds_ms >= 0 || o.artifacts_ms >= 0)
      builders[b.name] = RetentionJson({o.logs_ms, o.builds_ms, o.artifacts_ms, -1});
  }
  for (auto& [name, j] : builders.items()) j.erase("changes");
  std::lock_guard l(impl_->mu);
  Json out = {{"settings", RetentionJson(cfg->retention)},
              {"builders", builders},
              {"running", impl_->running || impl_->wanted},
              {"pruned_total", impl_->totals},
              {"last_run", nullptr}};
  if (impl_->ran) {
    const RunReport& r = impl_->last;
    out["last_run"] = {{"started_at", r.started_at},
                       {"finished_at", r.finished_at},
                       {"pruned", r.pruned},
                       {"batches", r.batches},
                       {"longest_batch_ms", r.longest_batch_ms},
                       {"vacuumed_pages", r.vacuumed_pages},
                       {"error", r.error.empty() ? Json(nullptr) : Json(r.error)}};
  }
  return out;
}

}  // namespace grove
