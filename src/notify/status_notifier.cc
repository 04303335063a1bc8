#include "notify/status_notifier.h"

#include <curl/curl.h>

#include "notify/http_post.h"

namespace grove::notify {

namespace {

std::string UrlEscape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

bool IsHexSha(const std::string& s) {
  if (s.size() < 7 || s.size() > 64) return false;
  for (char c : s)
    if (!isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

class StatusNotifier : public Notifier {
 public:
  StatusNotifier(StatusNotifierConfig c, const std::atomic<bool>* aborting)
      : c_(std::move(c)), aborting_(aborting) {}

  Outcome Deliver(const Notice& n) override {
    if (!IsHexSha(n.revision))
      return Outcome::Failed("build " + std::to_string(n.build.id) +
                             " has no commit to set a status on (revision '" + n.revision + "')");
    std::string repo = c_.repo.empty() ? RepoPathOf(n.repository) : c_.repo;
    if (repo.empty())
      return Outcome::Failed("cannot tell owner/name from repository '" + n.repository +
                             "': set repo = \"owner/name\"");
    std::string context = "grove/" + n.build.builder;
    if (!c_.context.empty()) {
      Status st = n.Render(c_.context, &context);
      if (!st.ok()) return Outcome::Failed(st.message());
    }
    std::string description = n.record.event == "started"
                                  ? "Build #" + std::to_string(n.build.number) + " started"
                                  : "Build #" + std::to_string(n.build.number) + ": " + n.result;
    if (!n.failing_step.empty() && n.record.event != "started")
      description += " (step '" + n.failing_step + "')";
    if (description.size() > 140) description = description.substr(0, 137) + "...";
    std::string state =
        ProviderState(c_.provider, n.record.event == "started" ? "running" : n.result);

    HttpPost post;
    Json body = {{"state", state}, {"target_url", n.url}, {"description", description}};
    if (c_.provider == "github") {
      post.url = c_.url + "/repos/" + repo + "/statuses/" + n.revision;
      post.headers = {"Authorization: Bearer " + c_.token, "Accept: application/vnd.github+json",
                      "X-GitHub-Api-Version: 2022-11-28"};
      body["context"] = context;
    } else if (c_.provider == "gitlab") {
      post.url = c_.url + "/api/v4/projects/" + UrlEscape(repo) + "/statuses/" + n.revision;
      post.headers = {"PRIVATE-TOKEN: " + c_.token};
      body["name"] = context;
      if (!n.branch.empty()) body["ref"] = n.branch;
    } else {
      post.url = c_.url + "/api/v1/repos/" + repo + "/statuses/" + n.revision;
      post.headers = {"Authorization: token " + c_.token, "Accept: application/json"};
      body["context"] = context;
    }
    post.headers.push_back("Content-Type: application/json");
    post.headers.push_back("User-Agent: Grove-Notifier");
    post.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    post.ca_file = c_.ca_file;
    post.timeout_ms = c_.common.timeout_ms;
    post.aborting = aborting_;
    std::vector<std::string> secrets = n.secrets;
    secrets.push_back(c_.token);
    return Post(post, secrets);
  }

 private:
  StatusNotifierConfig c_;
  const std::atomic<bool>* aborting_;
};

}  // namespace

std::string RepoPathOf(const std::string& url) {
  std::string path;
  size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    size_t slash = url.find('/', scheme + 3);
    if (slash == std::string::npos) return "";
    path = url.substr(slash + 1);
  } else if (size_t colon = url.find(':'); colon != std::string::npos) {
    path = url.substr(colon + 1);  // scp-like: git@host:owner/name.git
  } else {
    return "";
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".git") == 0)
    path.resize(path.size() - 4);
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  if (path.find('/') == std::string::npos || path.find_first_of("?# ") != std::string::npos)
    return "";
  return path;
}

std::string ProviderState(const std::string& provider, const std::string& result) {
  if (provider == "gitlab") {
    if (result == "running") return "running";
    if (result == "success" || result == "warnings" || result == "skipped") return "success";
    if (result == "cancelled") return "canceled";
    return "failed";
  }
  if (result == "running") return "pending";
  if (result == "success" || result == "skipped") return "success";
  if (result == "warnings") return provider == "gitea" ? "warning" : "success";
  if (result == "failure") return "failure";
  return "error";  // exception, cancelled
}

std::unique_ptr<Notifier> MakeStatusNotifier(const StatusNotifierConfig& config,
                                             const NotifierEnv& env) {
  return std::make_unique<StatusNotifier>(config, env.aborting);
}

}  // namespace grove::notify
