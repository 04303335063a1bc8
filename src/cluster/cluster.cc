#include "cluster/cluster.h"

#include <sodium.h>
#include <unistd.h>

#include <chrono>

#include "core/clock.h"
#include "core/log.h"
#include "store/sql_store.h"

namespace grove {

struct Cluster::Impl {
  std::unique_ptr<sql::Db> db;  // reopened after an error: the database may have restarted
};

namespace {

// What the hash leaves out: the master's own directory (each master has one; also where it
// appears inside paths, e.g. a step's file:line), and secret
// values (a hash shown in the API must not help anyone guess them; a changed secret is not
// flagged).
void StripLocalAndSecret(Json* j, const std::string& base_dir) {
  if (j->is_object()) {
    for (const char* key : {"base_dir", "secret", "secrets", "password", "store_password", "token"})
      j->erase(key);
    for (auto& [k, v] : j->items()) StripLocalAndSecret(&v, base_dir);
  } else if (j->is_array()) {
    for (Json& v : *j) StripLocalAndSecret(&v, base_dir);
  } else if (j->is_string() && !base_dir.empty()) {
    std::string s = j->get<std::string>();
    for (size_t pos = s.find(base_dir); pos != std::string::npos; pos = s.find(base_dir, pos))
      s.erase(pos, base_dir.size());
    *j = s;
  }
}

}  // namespace

std::string ConfigHash(const Json& config_json) {
  Json stripped = config_json;
  std::string base_dir;
  if (config_json.is_object() && config_json.contains("base_dir") &&
      config_json["base_dir"].is_string())
    base_dir = config_json["base_dir"].get<std::string>();
  StripLocalAndSecret(&stripped, base_dir);
  std::string text = stripped.dump(-1, ' ', false, Json::error_handler_t::replace);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string DefaultMasterName(int port) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    return "master:" + std::to_string(port);
  return std::string(host) + ":" + std::to_string(port);
}

Cluster::Cluster(Options opts)
    : opts_(std::move(opts)), config_hash_(opts_.config_hash), impl_(std::make_unique<Impl>()) {}

Cluster::~Cluster() {
  Stop();
}

void Cluster::OnLease(const std::string& lease, LeaseHandler handler) {
  leases_[lease].handler = std::move(handler);
}

Status Cluster::Start() {
  started_at_ = NowMs();
  GROVE_RETURN_IF_ERROR(
      OpenMigratedDb(opts_.store_url, opts_.base_dir, opts_.store_password, &impl_->db));
  // The first round before the master answers anything: a lone master has its schedulers and
  // poller running as soon as it serves, as before there were leases.
  Round(*impl_);
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(kRenewMs), [this] { return stopping_; })) {
      lock.unlock();
      Round(*impl_);
      lock.lock();
    }
  });
  return Status::Ok();
}

void Cluster::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;
  thread_.join();
  for (auto& [name, lease] : leases_) SetHeld(lease, false);
  if (!impl_->db) return;
  // Handing the leases over now spares the other masters the wait for their expiry.
  sql::Query q;
  if (impl_->db->Prepare("UPDATE leases SET expires_at = 0 WHERE holder = $1", &q).ok())
    (void)q.Bind(1, opts_.name).Run();
}

void Cluster::SetConfigHash(std::string hash) {
  std::lock_guard<std::mutex> lock(mu_);
  config_hash_ = std::move(hash);
}

Json Cluster::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_.is_null() ? Json{{"self", opts_.name}, {"masters", Json::array()}} : snapshot_;
}

std::string Cluster::LeaseHolder(const std::string& lease) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!snapshot_.is_object() || !snapshot_["masters"].is_array()) return "";
  for (const Json& m : snapshot_["masters"]) {
    if (m["state"] != "active" || !m["leases"].is_array()) continue;
    for (const Json& held : m["leases"])
      if (held == lease) return m["name"].get<std::string>();
  }
  return "";
}

void Cluster::SetHeld(Lease& lease, bool held) {
  if (lease.held == held) return;
  lease.held = held;
  if (lease.handler) lease.handler(held);
}

void Cluster::Round(Impl& impl) {
  if (!impl.db) {
    if (Status st = OpenMigratedDb(opts_.store_url, opts_.base_dir, opts_.store_password, &impl.db);
        !st.ok()) {
      impl.db.reset();
      spdlog::warn("cluster: cannot reach the store: {}", st.message());
    }
  }
  std::string hash;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hash = config_hash_;
  }
  const int64_t now = NowMs();
  Status failed = impl.db ? Status::Ok() : Status::Unavailable("no connection");
  if (failed.ok()) {
    sql::Query q;
    failed = impl.db->Prepare(
        "INSERT INTO masters (name, url, started_at, last_seen, config_hash) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET url = excluded.url, "
        "started_at = excluded.started_at, last_seen = excluded.last_seen, "
        "config_hash = excluded.config_hash",
        &q);
    if (failed.ok())
      failed = q.Bind(1, opts_.name)
                   .Bind(2, opts_.url)
                   .Bind(3, started_at_)
                   .Bind(4, now)
                   .Bind(5, hash)
                   .Run();
  }
  for (auto& [name, lease] : leases_) {
    if (!failed.ok()) break;
    // Acquired when free or expired, renewed when ours: one statement, atomic on both engines
    // (the row's lock orders two masters' attempts; the loser's WHERE sees the winner's row).
    sql::Query q;
    failed = impl.db->Prepare(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "expires_at = excluded.expires_at "
        "WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder",
        &q);
    if (!failed.ok()) break;
    q.Bind(1, name).Bind(2, opts_.name).Bind(3, now + kExpiryMs).Bind(4, now);
    bool row = false;
    failed = q.Step(&row);
    if (!failed.ok()) break;
    if (row) {
      if (!lease.held)
        spdlog::info("cluster: lease '{}' acquired by master '{}'", name, opts_.name);
      lease.confirmed_until = now + kExpiryMs;
      SetHeld(lease, true);
    } else {
      if (lease.held) spdlog::warn("cluster: lease '{}' taken by another master", name);
      SetHeld(lease, false);
    }
  }
  if (!failed.ok()) {
    spdlog::warn("cluster: heartbeat failed: {}", failed.message());
    impl.db.reset();
    // Given up a full renewal period before its expiry: by the time another master may take
    // it, this one has stopped acting on it.
    for (auto& [name, lease] : leases_)
      if (lease.held && NowMs() + kRenewMs >= lease.confirmed_until) {
        spdlog::warn("cluster: lease '{}' could not be renewed; giving it up", name);
        SetHeld(lease, false);
      }
    return;
  }

  // The snapshot for GET /api/v1/masters.
  Json masters = Json::array();
  std::map<std::string, Json> held;  // master -> its live leases
  sql::Query q;
  if (!impl.db->Prepare("SELECT name, holder, expires_at FROM leases ORDER BY name", &q).ok())
    return;
  bool row = false;
  while (q.Step(&row).ok() && row)
    if (q.Int(2) > now) held[std::string(q.Text(1))].push_back(std::string(q.Text(0)));
  q.Reset();
  if (!impl.db
           ->Prepare(
               "SELECT name, url, started_at, last_seen, config_hash FROM masters ORDER BY name",
               &q)
           .ok())
    return;
  std::map<std::string, int> active_hashes;
  std::set<std::string> live{opts_.name};
  bool others_recent = false;
  while (q.Step(&row).ok() && row) {
    std::string name(q.Text(0));
    int64_t last_seen = q.Int(3);
    if (now - last_seen < kExpiryMs) live.insert(name);
    if (name != opts_.name && now - last_seen < kRecentMs) others_recent = true;
    bool active = now - last_seen < kActiveMs;
    Json m{{"name", name},
           {"url", std::string(q.Text(1))},
           {"started_at", q.Int(2)},
           {"last_seen", last_seen},
           {"state", active ? "active" : "gone"},
           {"config_hash", std::string(q.Text(4))},
           {"self", name == opts_.name},
           {"leases", held.count(name) ? held[name] : Json::array()}};
    if (active) ++active_hashes[m["config_hash"].get<std::string>()];
    masters.push_back(std::move(m));
  }
  // Flagged: an active master whose configuration is not the one most active masters run (on a
  // tie, not this master's).
  std::string usual = hash;
  for (const auto& [h, n] : active_hashes)
    if (n > active_hashes[usual]) usual = h;
  for (Json& m : masters) m["config_differs"] = m["state"] == "active" && m["config_hash"] != usual;
  if (peers_handler_) peers_handler_(std::move(live), others_recent);
  Json snapshot{{"self", opts_.name},
                {"config_hashes_differ", active_hashes.size() > 1},
                {"masters", std::move(masters)}};
  Json shape = snapshot;
  for (Json& m : shape["masters"]) m.erase("last_seen");
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(snapshot);
  }
  if (shape != shape_) {
    const bool first = shape_.is_null();
    shape_ = std::move(shape);
    if (!first && on_change_) on_change_();
  }
}

}  // namespace grove
