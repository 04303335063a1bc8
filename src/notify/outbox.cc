#include "notify/outbox.h"

#include <optional>

#include "core/clock.h"
#include "core/log.h"
#include "notify/filter.h"

namespace grove::notify {

namespace {

// The result of the builder's previous finished build (retried attempts do not count).
std::optional<Result> PreviousResult(Store& store, const BuildRecord& b) {
  std::vector<BuildRecord> older;
  if (!store.ListBuilds(b.builder, b.number, 20, &older).ok()) return std::nullopt;
  for (const BuildRecord& o : older) {
    if (o.state != "finished" || o.result < 0 || o.result == static_cast<int>(Result::kRetry))
      continue;
    return static_cast<Result>(o.result);
  }
  return std::nullopt;
}

// Commit statuses are for builds of a known revision.
bool HasRevision(Store& store, const BuildRecord& b) {
  std::vector<ChangeRecord> changes;
  if (store.ChangesOfRequest(b.request_id, &changes).ok()) {
    for (const ChangeRecord& c : changes)
      if (!c.revision.empty()) return true;
  }
  RequestRecord r;
  if (store.GetRequest(b.request_id, &r).ok() && r.source.is_object() &&
      r.source.contains("revision") && r.source["revision"].is_string() &&
      !r.source["revision"].get<std::string>().empty())
    return true;
  return false;
}

}  // namespace

std::vector<NotifierInfo> ListNotifiers(const Config& config) {
  std::vector<NotifierInfo> out;
  for (const auto& n : config.notify.email) out.push_back({"email", &n.common});
  for (const auto& n : config.notify.irc) out.push_back({"irc", &n.common});
  for (const auto& n : config.notify.webhook) out.push_back({"webhook", &n.common});
  for (const auto& n : config.notify.status) out.push_back({"status", &n.common});
  return out;
}

const NotifierCommon* FindNotifier(const Config& config, const std::string& name,
                                   std::string* kind) {
  for (const NotifierInfo& n : ListNotifiers(config)) {
    if (n.common->name != name) continue;
    if (kind) *kind = n.kind;
    return n.common;
  }
  return nullptr;
}

int RecordNotices(Store& store, const Config& config, int64_t build_id, const std::string& event) {
  if (config.notify.empty() || build_id == 0) return 0;
  // Only commit statuses report a build's start: nothing to read for the others.
  if (event != "finished" && config.notify.status.empty()) return 0;
  BuildRecord b;
  Status st = store.GetBuild(build_id, &b);
  if (!st.ok()) {
    spdlog::error("notify: build {}: {}", build_id, st.message());
    return 0;
  }
  const BuilderConfig* bc = config.FindBuilder(b.builder);
  const bool finished = event == "finished";
  if (finished && (b.result < 0 || b.result == static_cast<int>(Result::kRetry))) return 0;
  std::optional<std::optional<Result>> previous;  // read once, when a mode needs it
  std::optional<bool> has_revision;
  int added = 0;
  for (const NotifierInfo& n : ListNotifiers(config)) {
    if (!finished && n.kind != "status") continue;
    if (!CoversBuilder(*n.common, b.builder, bc)) continue;
    if (n.kind == "status") {
      if (!has_revision) has_revision = HasRevision(store, b);
      if (!*has_revision) continue;
    }
    if (finished) {
      if (NeedsPrevious(*n.common) && !previous) previous = PreviousResult(store, b);
      if (!WantsResult(*n.common, static_cast<Result>(b.result),
                       previous ? *previous : std::nullopt))
        continue;
    }
    NotificationRecord rec;
    rec.build_id = build_id;
    rec.notifier = n.common->name;
    rec.kind = n.kind;
    rec.event = event;
    st = store.AddNotification(&rec);
    if (!st.ok()) {
      spdlog::error("notify {}: cannot queue the notice of build {}: {}", rec.notifier, build_id,
                    st.message());
      continue;
    }
    if (rec.id) ++added;
    if (finished && n.kind == "status") {
      // The end says it all: a start notice still waiting must not arrive after it.
      NotificationRecord started;
      if (store.FindNotification(build_id, rec.notifier, "started", &started).ok() &&
          (started.state == "pending" || started.state == "retrying")) {
        started.state = "superseded";
        started.updated_at = NowMs();
        (void)store.UpdateNotification(started);
      }
    }
  }
  return added;
}

}  // namespace grove::notify
