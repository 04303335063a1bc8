// Auth: who may do what on the master's HTTP API and web UI, decided in one place.
//
// Installed as the Router's guard (http/router.h), it runs before every routed handler:
//  - identity: "Authorization: Bearer TOKEN" (API tokens, for the CLI and automation) or the
//    "grove_session" cookie (HttpOnly, SameSite=Strict) that POST /api/v1/login sets;
//  - CSRF: a state-changing request made with the session cookie must carry the session's
//    token in X-CSRF-Token (returned by login and GET /api/v1/me); any request whose Origin is
//    not the master's own is refused;
//  - roles: reads need "viewer", changes "developer"; the login, logout and "me" calls and the
//    UI's static files are open to all.
// While the users file holds no user the master is open as before (everyone may do anything
// from a same-origin or non-browser client); once a user exists, anonymous visitors get
// web.anonymous ("viewer" by default, or "none"). Sessions live in memory: a master restart
// logs everyone out. A session ends when its user is removed from the users file or the
// user's password changes: each request compares the session's credential fingerprint with the
// users file as loaded now, so the end follows from the data however the file was changed. A
// cookie naming no live session answers 401 (outside the public calls). Login is rate-limited
// per user name and per address.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/router.h"
#include "master/users_file.h"

namespace grove {

class ReadPool;

struct AuthSettings {
  std::string users_path;            // absolute path of the users file
  std::string anonymous = "viewer";  // role of visitors without credentials once users exist
  // Who may read GET /metrics (web { metrics = ... }): "loopback" (anyone from this machine,
  // the usual rules from elsewhere), "public", "users" (the usual rules: viewer) or "off".
  std::string metrics = "loopback";
};

class Auth {
 public:
  using SettingsSource = std::function<AuthSettings()>;
  explicit Auth(SettingsSource settings);

  // The router guard.
  std::optional<http::Response> Check(http::Request* req);

  // POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me. Password checks (argon2id, tens
  // of milliseconds) run on |hashing| threads, never on the network thread.
  void AddRoutes(http::Router& router, ReadPool& hashing);

  // Figures for tests and the operations page.
  size_t sessions() const;

 private:
  struct Session {
    std::string user;
    std::string csrf;
    std::string credential;  // CredentialFingerprint of the user at login
    int64_t expires_at = 0;
  };
  struct Identity {
    std::string user;
    std::string role;
    const Session* session = nullptr;  // set when the identity comes from the cookie
    std::string session_id;
    // A session cookie was sent that names no live session: logged out, expired, the master
    // restarted, the password changed or the user was removed.
    bool ended_session = false;
  };

  // Re-reads the users file when it changed (checked at most once a second).
  std::shared_ptr<const UsersData> Users();
  std::optional<http::Response> Identify(const http::Request& req, const UsersData& users,
                                         Identity* id);
  void Login(const http::Request& req, http::Responder respond, ReadPool& hashing);
  void Logout(const http::Request& req, http::Responder respond);
  void Me(const http::Request& req, http::Responder respond);

  // Failed logins in the last window, per "user:NAME" and per "addr:IP".
  bool Throttled(const std::string& user, const std::string& addr, int64_t now);
  void RecordFailure(const std::string& user, const std::string& addr, int64_t now);

  SettingsSource settings_;
  mutable std::mutex mu_;
  std::shared_ptr<const UsersData> users_;
  std::string users_stamp_;
  int64_t users_checked_at_ = 0;
  std::map<std::string, Session> sessions_;
  std::map<std::string, std::vector<int64_t>> failures_;
};

}  // namespace grove
