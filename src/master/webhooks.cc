#include "master/webhooks.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/cron.h"
#include "core/json_fields.h"
#include "master/hmac.h"

namespace grove {

namespace {

constexpr size_t kMaxDeliveryId = 200;

HookOutcome Fail(int status, std::string message) {
  HookOutcome o;
  o.status = status;
  o.message = std::move(message);
  return o;
}

std::string Normalize(std::string url) {
  std::transform(url.begin(), url.end(), url.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  return url;
}

// The configured url matching one of |candidates|, else the first non-empty candidate.
std::string PickRepository(const std::vector<std::string>& candidates,
                           const std::vector<std::string>& known) {
  for (const std::string& c : candidates) {
    if (c.empty()) continue;
    for (const std::string& k : known)
      if (Normalize(k) == Normalize(c)) return k;
  }
  for (const std::string& c : candidates)
    if (!c.empty()) return c;
  return "";
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Author(const Json& commit) {
  auto a = commit.find("author");
  if (a == commit.end() || !a->is_object()) return "";
  std::string name = Str(*a, "name"), email = Str(*a, "email");
  return email.empty() ? name : name + " <" + email + ">";
}

std::vector<std::string> Files(const Json& commit) {
  std::vector<std::string> files;
  for (const char* key : {"added", "modified", "removed"}) {
    auto it = commit.find(key);
    if (it == commit.end() || !it->is_array()) continue;
    for (const Json& f : *it)
      if (f.is_string()) files.push_back(f.get<std::string>());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

// A string member: false when present with another type; "" when absent or null.
bool OptionalStr(const Json& j, const char* key, std::string* out) {
  out->clear();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

ChangeRecord CommitChange(const Json& commit) {
  ChangeRecord ch;
  ch.revision = Str(commit, "id");
  ch.author = Author(commit);
  ch.comments = Str(commit, "message");
  ch.committed_at = ParseIsoTimeMs(Str(commit, "timestamp"));
  ch.files = Files(commit);
  return ch;
}

// GitHub, Gitea and GitLab push payloads share their shape: ref, before/after, commits[] with
// id, message, timestamp, author, added/modified/removed. What was pushed is |head| (after, or
// GitLab's checkout_sha); commits[] only describes it, in an order that differs (GitHub and
// GitLab: oldest first; Gitea/Forgejo: newest first) and may be cut short or empty.
HookOutcome ParsePush(const std::string& provider, const Json& body,
                      const std::vector<std::string>& repo_candidates,
                      const std::vector<std::string>& known) {
  if (!body.is_object()) return Fail(400, "malformed push event: not a JSON object");
  std::string ref, after, checkout;
  if (!OptionalStr(body, "ref", &ref) || ref.empty())
    return Fail(400, "malformed push event: no string 'ref'");
  if (!OptionalStr(body, "after", &after))
    return Fail(400, "malformed push event: 'after' is not a string");
  if (!OptionalStr(body, "checkout_sha", &checkout))
    return Fail(400, "malformed push event: 'checkout_sha' is not a string");
  HookOutcome out;
  const std::string kHeads = "refs/heads/";
  if (ref.rfind(kHeads, 0) != 0) {
    out.message = "ignored: " + ref + " is not a branch";
    return out;
  }
  auto deleted = body.find("deleted");
  bool gone = deleted != body.end() && deleted->is_boolean() && deleted->get<bool>();
  if (gone || (!after.empty() && after.find_first_not_of('0') == std::string::npos)) {
    out.message = "ignored: branch deleted";
    return out;
  }
  std::string repository = PickRepository(repo_candidates, known);
  if (repository.empty()) return Fail(400, "malformed push event: no repository url");
  auto commits = body.find("commits");
  if (commits != body.end() && !commits->is_null() && !commits->is_array())
    return Fail(400, "malformed push event: 'commits' is not a list");
  std::vector<ChangeRecord> listed;
  if (commits != body.end() && commits->is_array()) {
    for (const Json& c : *commits) {
      if (!c.is_object() || Str(c, "id").empty())
        return Fail(400, "malformed push event: a commit without an id");
      listed.push_back(CommitChange(c));
    }
  }
  auto head_commit = body.find("head_commit");
  bool has_head_commit =
      head_commit != body.end() && head_commit->is_object() && !Str(*head_commit, "id").empty();
  std::string head = !checkout.empty() ? checkout : after;
  if (head.empty() && has_head_commit) head = Str(*head_commit, "id");
  if (head.empty()) return Fail(400, "malformed push event: no 'after' revision");

  // Oldest first, the head last: the head is what the build is of.
  auto at = std::find_if(listed.begin(), listed.end(),
                         [&](const ChangeRecord& c) { return c.revision == head; });
  if (at == listed.begin() && listed.size() > 1) {
    std::reverse(listed.begin(), listed.end());  // newest first (Gitea)
  } else if (at != listed.end()) {
    std::rotate(at, at + 1, listed.end());
  } else if (has_head_commit && Str(*head_commit, "id") == head) {
    listed.push_back(CommitChange(*head_commit));
  } else {
    // Not described (a push of commits already known elsewhere, or a cut-short list).
    ChangeRecord ch;
    ch.revision = head;
    listed.push_back(std::move(ch));
  }
  std::string branch = ref.substr(kHeads.size());
  if (branch.empty()) return Fail(400, "malformed push event: 'ref' names no branch");
  for (ChangeRecord& ch : listed) {
    ch.source = provider;
    ch.repository = repository;
    ch.branch = branch;
  }
  out.changes = std::move(listed);
  out.message = "recorded " + std::to_string(out.changes.size()) + " changes";
  return out;
}

std::vector<std::string> RepoUrls(const Json& body, const char* object,
                                  std::initializer_list<const char*> keys) {
  std::vector<std::string> urls;
  auto it = body.find(object);
  if (it == body.end() || !it->is_object()) return urls;
  for (const char* k : keys) urls.push_back(Str(*it, k));
  return urls;
}

HookOutcome ParseGeneric(const Json& body, const std::vector<std::string>& known) {
  if (!body.is_object()) return Fail(400, "malformed body: expected a JSON object");
  std::vector<Json> items;
  if (body.contains("changes")) {
    if (!body["changes"].is_array()) return Fail(400, "malformed body: 'changes' is not a list");
    items.assign(body["changes"].begin(), body["changes"].end());
  } else {
    items.push_back(body);
  }
  HookOutcome out;
  for (const Json& c : items) {
    if (!c.is_object()) return Fail(400, "malformed body: a change is not an object");
    for (const char* key : {"repository", "branch", "revision"})
      if (Str(c, key).empty())
        return Fail(400, std::string("malformed body: a change needs a string '") + key + "'");
    for (const char* key : {"author", "comments"})
      if (c.contains(key) && !c[key].is_string())
        return Fail(400, std::string("malformed body: '") + key + "' must be a string");
    ChangeRecord ch;
    ch.source = "generic";
    ch.repository = PickRepository({Str(c, "repository")}, known);
    ch.branch = Str(c, "branch");
    ch.revision = Str(c, "revision");
    ch.author = Str(c, "author");
    ch.comments = Str(c, "comments");
    if (c.contains("files")) {
      if (!c["files"].is_array()) return Fail(400, "malformed body: 'files' must be a list");
      for (const Json& f : c["files"]) {
        if (!f.is_string()) return Fail(400, "malformed body: 'files' must hold strings");
        ch.files.push_back(f.get<std::string>());
      }
    }
    if (c.contains("when")) {
      // Bounded before the conversion: a double beyond int64's range is undefined behaviour.
      const double when = c["when"].is_number() ? c["when"].get<double>() : -1;
      if (!(when >= 0 && when < 1e13))
        return Fail(400, "malformed body: 'when' must be epoch seconds");
      ch.committed_at = static_cast<int64_t>(when * 1000);
    }
    out.changes.push_back(std::move(ch));
  }
  out.message = "recorded " + std::to_string(out.changes.size()) + " changes";
  return out;
}

HookOutcome Parse(const std::string& provider, const std::string& event, const Json& body,
                  const std::vector<std::string>& known_urls) {
  if (provider == "generic") return ParseGeneric(body, known_urls);

  bool push = provider == "gitlab" ? (event.empty() || event == "Push Hook")
                                   : (event.empty() || event == "push");
  if (!push) {
    HookOutcome out;
    out.message = "ignored: event '" + event + "' is not a push";
    return out;
  }
  if (provider == "gitlab") {
    std::vector<std::string> urls =
        RepoUrls(body, "project", {"git_http_url", "web_url", "git_ssh_url"});
    for (const std::string& u : RepoUrls(body, "repository", {"git_http_url", "homepage", "url"}))
      urls.push_back(u);
    return ParsePush(provider, body, urls, known_urls);
  }
  return ParsePush(provider, body,
                   RepoUrls(body, "repository", {"clone_url", "html_url", "ssh_url", "git_url"}),
                   known_urls);
}

}  // namespace

int64_t ParseIsoTimeMs(const std::string& text) {
  if (text.empty()) return 0;
  CronSchedule utc;
  if (!CronSchedule::Parse("* * * * *", "", &utc).ok()) return 0;
  int64_t s = 0;
  if (!ParseIsoInZone(text, utc, &s).ok()) return 0;
  return s * 1000;
}

HookOutcome ReceiveWebhook(const std::string& provider, const std::string& secret,
                           const http::Request& req, const std::vector<std::string>& known_urls) {
  if (provider != "github" && provider != "gitlab" && provider != "gitea" && provider != "generic")
    return Fail(
        404, "no webhook receiver for '" + provider + "' (known: github, gitlab, gitea, generic)");
  if (secret.empty())
    return Fail(404, "the " + provider + " webhook is not configured (webhooks { " + provider +
                         " = secret \"...\" } in grove.lua)");

  // GitHub's default content type, and Gitea's "POST form": payload=<the JSON>. Decoded only
  // once the signature over the body as sent failed (Gitea signs the JSON) or was verified.
  std::string content_type = req.Header("content-type");
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool form = content_type.rfind("application/x-www-form-urlencoded", 0) == 0;
  std::optional<std::string> payload;
  auto form_payload = [&]() -> const std::string& {
    if (!payload) {
      auto fields = http::ParseQuery(req.body);
      auto it = fields.find("payload");
      payload = it == fields.end() ? "" : it->second;
    }
    return *payload;
  };

  // The credential first: nothing about the body is looked at before it is verified.
  std::string event;
  if (provider == "github") {
    std::string sig = req.Header("x-hub-signature-256");
    if (sig.empty()) return Fail(401, "missing X-Hub-Signature-256");
    // GitHub signs the body as sent; Gitea (which sends this header too) signs the JSON, also
    // when it sends it as a form field. Either needs the secret.
    if (!ConstantTimeEquals(sig, "sha256=" + HmacSha256Hex(secret, req.body)) &&
        !(form && ConstantTimeEquals(sig, "sha256=" + HmacSha256Hex(secret, form_payload()))))
      return Fail(401, "wrong X-Hub-Signature-256");
    event = req.Header("x-github-event");
  } else if (provider == "gitea") {
    std::string sig = req.Header("x-gitea-signature");
    if (sig.empty()) return Fail(401, "missing X-Gitea-Signature");
    if (!ConstantTimeEquals(sig, HmacSha256Hex(secret, req.body)) &&
        !(form && ConstantTimeEquals(sig, HmacSha256Hex(secret, form_payload()))))
      return Fail(401, "wrong X-Gitea-Signature");
    event = req.Header("x-gitea-event");
  } else if (provider == "gitlab") {
    std::string token = req.Header("x-gitlab-token");
    if (token.empty()) return Fail(401, "missing X-Gitlab-Token");
    if (!ConstantTimeEquals(token, secret)) return Fail(401, "wrong X-Gitlab-Token");
    event = req.Header("x-gitlab-event");
  } else {
    std::string authz = req.Header("authorization");
    if (authz.rfind("Bearer ", 0) != 0) return Fail(401, "missing Authorization: Bearer TOKEN");
    if (!ConstantTimeEquals(authz.substr(7), secret)) return Fail(401, "wrong bearer token");
  }

  // The provider's id of this delivery: a retry or a redelivery carries the same one.
  const char* delivery_header = provider == "github"   ? "x-github-delivery"
                                : provider == "gitea"  ? "x-gitea-delivery"
                                : provider == "gitlab" ? "x-gitlab-event-uuid"
                                                       : "";
  std::string delivery = *delivery_header ? req.Header(delivery_header) : "";
  if (delivery.size() > kMaxDeliveryId)
    return Fail(400, std::string("the ") + delivery_header + " header is longer than " +
                         std::to_string(kMaxDeliveryId) + " characters");

  if (event == "ping") {
    HookOutcome out;
    out.ping = true;
    out.message = "pong";
    return out;
  }
  const std::string& json_text = form ? form_payload() : req.body;
  if (form && json_text.empty()) return Fail(400, "form-encoded body without a 'payload' field");
  Json body = ParseUntrusted(json_text);
  if (body.is_discarded()) return Fail(400, "malformed JSON body");
  HookOutcome parsed = Parse(provider, event, body, known_urls);
  if (!parsed.changes.empty()) parsed.delivery = std::move(delivery);
  return parsed;
}

}  // namespace grove
