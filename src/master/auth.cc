#include "master/auth.h"

#include <sys/stat.h>

#include <algorithm>

#include "core/clock.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/protocol.h"
#include "master/api_artifacts.h"
#include "master/read_pool.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

constexpr int64_t kSessionLifetimeMs = 12LL * 3600 * 1000;
constexpr int64_t kFailureWindowMs = 5LL * 60 * 1000;
constexpr size_t kMaxFailures = 5;  // per user name and per address in the window
constexpr const char* kSessionCookie = "grove_session";

std::string CookieValue(const Request& req, const std::string& name) {
  const std::string cookies = req.Header("cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string part = cookies.substr(pos, end - pos);
    size_t start = part.find_first_not_of(' ');
    if (start != std::string::npos) part = part.substr(start);
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Open to everyone whatever the configuration: the page itself and the calls that log in.
bool IsPublic(const Request& req) {
  if (req.method == "GET" && (req.path == "/" || StartsWith(req.path, "/ui/") ||
                              StartsWith(req.path, "/static/") || req.path == "/api/v1/me"))
    return true;
  return req.method == "POST" && (req.path == "/api/v1/login" || req.path == "/api/v1/logout");
}

// Calls that carry their own credentials and are never made by a browser session: webhooks
// (signed by the provider) and what workers' steps send with their job token (artifact
// uploads, triggers). Users' roles do not apply to them.
bool AuthenticatesItself(const Request& req) {
  if (StartsWith(req.path, "/api/v1/hooks/") || req.path == "/api/v1/trigger" ||
      StartsWith(req.path, "/api/v1/trigger/"))
    return true;
  if (req.method == "PUT" || req.method == "POST") {
    // /api/v1/builds/{id}/artifacts/{path}
    std::vector<std::string> segs = http::SplitPath(req.path);
    return segs.size() >= 6 && segs[0] == "api" && segs[1] == "v1" && segs[2] == "builds" &&
           segs[4] == "artifacts";
  }
  return false;
}

bool ChangesState(const Request& req) {
  return req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
}

// "http://host:port" → "host:port".
std::string OriginHost(const std::string& origin) {
  size_t scheme = origin.find("://");
  std::string rest = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  return rest.substr(0, rest.find('/'));
}

std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "absent";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}

}  // namespace

Auth::Auth(SettingsSource settings)
    : settings_(std::move(settings)), users_(std::make_shared<UsersData>()) {}

std::shared_ptr<const UsersData> Auth::Users() {
  const int64_t now = NowMs();
  const AuthSettings s = settings_();
  std::lock_guard<std::mutex> lock(mu_);
  if (now - users_checked_at_ < 1000) return users_;
  users_checked_at_ = now;
  std::string stamp = s.users_path + "@" + FileStamp(s.users_path);
  if (stamp == users_stamp_) return users_;
  auto fresh = std::make_shared<UsersData>();
  Status st = LoadUsers(s.users_path, fresh.get());
  if (!st.ok()) {
    // Keep what was loaded before rather than opening the master on a broken file.
    spdlog::error("{}; keeping the previous users", st.message());
    return users_;
  }
  users_stamp_ = stamp;
  if (users_->users.size() != fresh->users.size())
    spdlog::info("users file {}: {} users, {} API tokens", s.users_path, fresh->users.size(),
                 fresh->tokens.size());
  users_ = std::move(fresh);
  return users_;
}

std::optional<Response> Auth::Identify(const Request& req, const UsersData& users, Identity* id) {
  std::string authz = req.Header("authorization");
  if (!authz.empty()) {
    if (!StartsWith(authz, "Bearer "))
      return Response::Error(401, "unsupported Authorization scheme (use Bearer TOKEN)");
    std::string hash = TokenHash(authz.substr(7));
    for (const auto& t : users.tokens) {
      if (!SecretEquals(t.hash, hash)) continue;
      const UserEntry* u = users.Find(t.user);
      if (!u) break;
      id->user = u->name;
      id->role = u->role;
      return std::nullopt;
    }
    return Response::Error(401, "invalid API token");
  }
  std::string sid = CookieValue(req, kSessionCookie);
  if (!sid.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sid);
    const UserEntry* u = it == sessions_.end() ? nullptr : users.Find(it->second.user);
    if (u && it->second.expires_at > NowMs() &&
        SecretEquals(it->second.credential, CredentialFingerprint(*u))) {
      id->user = u->name;
      id->role = u->role;  // as the users file says now: a role change applies at once
      id->session = &it->second;
      id->session_id = sid;
    } else {
      if (it != sessions_.end()) sessions_.erase(it);  // for good, even if the user comes back
      id->ended_session = true;
    }
  }
  return std::nullopt;
}

// Endpoints that check their own credentials (webhook signatures, job tokens; see
// master/api_schedulers.cc): neither users nor API tokens apply to them.
bool SelfAuthenticated(const Request& req) {
  return StartsWith(req.path, "/api/v1/hooks/") || StartsWith(req.path, "/api/v1/trigger") ||
         IsArtifactUpload(req);  // a build token (master/api_artifacts.cc)
}

std::optional<Response> Auth::Check(Request* req) {
  if (req->path == "/metrics") {
    const std::string mode = settings_().metrics;
    if (mode == "off") return Response::Error(404, "metrics are off (web { metrics = \"off\" })");
    const bool loopback = req->remote.rfind("127.", 0) == 0 || req->remote == "::1" ||
                          req->remote.rfind("::ffff:127.", 0) == 0;
    // A scraper sends no session or Origin: reading figures changes nothing.
    if (mode == "public" || (mode == "loopback" && loopback)) return std::nullopt;
  }
  if (AuthenticatesItself(*req)) return std::nullopt;
  if (SelfAuthenticated(*req)) return std::nullopt;
  // A browser says where a request comes from; a page of another site must not change
  // anything here even when the master is open. "null" is an opaque origin (a sandboxed frame,
  // a data: or file: page, some redirects): never this master's own page.
  const std::string origin = req->Header("origin");
  if (ChangesState(*req) && !origin.empty() && OriginHost(origin) != req->Header("host"))
    return Response::Error(
        403, "cross-origin request refused: Origin '" + origin.substr(0, 200) +
                 "' is not this master (Host: " + req->Header("host").substr(0, 200) + ")");

  auto users = Users();
  Identity id;
  if (auto denied = Identify(*req, *users, &id)) return denied;

  if (users->users.empty()) {
    // Open master (no users yet): everyone is admin. A cross-site form can only send simple
    // content types, so a state change must come as JSON or with the CSRF header.
    req->user = "";
    req->role = "admin";
    if (ChangesState(*req) && !IsPublic(*req) &&
        !StartsWith(req->Header("content-type"), "application/json") &&
        req->Header("x-csrf-token").empty())
      return Response::Error(403, "state-changing requests must be sent as application/json");
    return std::nullopt;
  }

  req->user = id.user;
  req->role = id.user.empty() ? settings_().anonymous : id.role;
  if (req->role == "none") req->role = "";
  if (IsPublic(*req)) return std::nullopt;
  if (id.ended_session) {
    // Not silently anonymous: the client believes it is logged in and must be told otherwise.
    Response r = Response::Error(401,
                                 "session ended (logged out, expired, password changed or user "
                                 "removed); log in again");
    r.headers["Set-Cookie"] =
        std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
    return r;
  }

  if (ChangesState(*req) && id.session) {
    std::string csrf;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(id.session_id);
      if (it != sessions_.end()) csrf = it->second.csrf;
    }
    std::string sent = req->Header("x-csrf-token");
    if (csrf.empty() || sent.empty() || !SecretEquals(sent, csrf))
      return Response::Error(403, "missing or wrong CSRF token (X-CSRF-Token)");
  }

  int need = ChangesState(*req) ? RoleRank("developer") : RoleRank("viewer");
  if (StartsWith(req->path, "/api/v1/users")) need = RoleRank("admin");
  if (RoleRank(req->role) >= need) return std::nullopt;
  if (id.user.empty()) return Response::Error(401, "log in first");
  return Response::Error(403, "user '" + id.user + "' (" + id.role + ") may not do this");
}

bool Auth::Throttled(const std::string& user, const std::string& addr, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& key : {"user:" + user, "addr:" + addr}) {
    auto it = failures_.find(key);
    if (it == failures_.end()) continue;
    auto& v = it->second;
    v.erase(
        std::remove_if(v.begin(), v.end(), [&](int64_t t) { return t < now - kFailureWindowMs; }),
        v.end());
    if (v.size() >= kMaxFailures) return true;
  }
  return false;
}

void Auth::RecordFailure(const std::string& user, const std::string& addr, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_["user:" + user].push_back(now);
  failures_["addr:" + addr].push_back(now);
  if (failures_.size() > 100000) failures_.clear();  // bounded under a spray of names
}

void Auth::Login(const Request& req, Responder respond, ReadPool& hashing) {
  Json body = ParseUntrusted(req.body);
  if (body.is_discarded() || !body.is_object() || !body.contains("name") ||
      !body.contains("password") || !body["name"].is_string() || !body["password"].is_string())
    return respond(Response::Error(400, "expected {\"name\": ..., \"password\": ...}"));
  std::string name = body["name"].get<std::string>();
  std::string password = body["password"].get<std::string>();
  const int64_t now = NowMs();
  if (Throttled(name, req.remote, now)) {
    Response r = Response::Error(429, "too many failed logins; try again in a few minutes");
    r.headers["Retry-After"] = "300";
    return respond(std::move(r));
  }
  auto users = Users();
  std::string remote = req.remote;
  hashing.Run([this, users, name, password, remote, now, respond](Store&) {
    const UserEntry* u = users->Find(name);
    // An unknown name costs the same hash as a wrong password, so names cannot be probed.
    static const std::string kDummy = [] {
      std::string h;
      (void)HashPassword("not-a-password-of-anyone", &h);
      return h;
    }();
    bool ok = VerifyPassword(u ? u->password_hash : kDummy, password) && u;
    if (!ok) {
      RecordFailure(name, remote, now);
      spdlog::warn("failed login for '{}' from {}", name, remote);
      return respond(Response::Error(401, "wrong user name or password"));
    }
    Session s{u->name, RandomHex(32), CredentialFingerprint(*u), NowMs() + kSessionLifetimeMs};
    std::string sid = RandomHex(32);
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Expired sessions are swept at each login, which keeps the map bounded by live ones.
      for (auto it = sessions_.begin(); it != sessions_.end();)
        it = it->second.expires_at < NowMs() ? sessions_.erase(it) : std::next(it);
      sessions_[sid] = s;
    }
    spdlog::info("user {} logged in from {}", u->name, remote);
    Response r = Response::Json(200, {{"user", u->name}, {"role", u->role}, {"csrf", s.csrf}});
    r.headers["Set-Cookie"] =
        std::string(kSessionCookie) + "=" + sid +
        "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(kSessionLifetimeMs / 1000);
    respond(std::move(r));
  });
}

void Auth::Logout(const Request& req, Responder respond) {
  std::string sid = CookieValue(req, kSessionCookie);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sid);
    // Only the session's own page may end it (CSRF token), so another site cannot log a user out.
    if (it != sessions_.end() && SecretEquals(req.Header("x-csrf-token"), it->second.csrf))
      sessions_.erase(it);
  }
  Response r = Response::Json(200, {{"user", nullptr}});
  r.headers["Set-Cookie"] =
      std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
  respond(std::move(r));
}

void Auth::Me(const Request& req, Responder respond) {
  auto users = Users();
  std::string csrf;
  std::string sid = CookieValue(req, kSessionCookie);
  if (!sid.empty() && !req.user.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sid);
    if (it != sessions_.end()) csrf = it->second.csrf;
  }
  Json j = {{"user", req.user.empty() ? Json(nullptr) : Json(req.user)},
            {"role", req.role.empty() ? Json(nullptr) : Json(req.role)},
            {"auth_required", !users->users.empty()},
            {"csrf", csrf.empty() ? Json(nullptr) : Json(csrf)}};
  respond(Response::Json(200, j));
}

void Auth::AddRoutes(http::Router& router, ReadPool& hashing) {
  router.Add("POST", "/api/v1/login", [this, &hashing](const Request& req, Responder respond) {
    Login(req, std::move(respond), hashing);
  });
  router.Add("POST", "/api/v1/logout",
             [this](const Request& req, Responder respond) { Logout(req, std::move(respond)); });
  router.Add("GET", "/api/v1/me",
             [this](const Request& req, Responder respond) { Me(req, std::move(respond)); });
  router.SetGuard([this](Request* req) { return Check(req); });
}

size_t Auth::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace grove
