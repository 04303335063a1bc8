#include "notify/webhook_notifier.h"

#include "notify/http_post.h"

namespace grove::notify {

namespace {

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const char* Color(const std::string& result) {
  if (result == "success") return "#2eb886";
  if (result == "warnings") return "#daa038";
  if (result == "running") return "#439fe0";
  return "#a30200";
}

class WebhookNotifier : public Notifier {
 public:
  WebhookNotifier(WebhookNotifierConfig c, const std::atomic<bool>* aborting)
      : c_(std::move(c)), aborting_(aborting) {}

  Outcome Deliver(const Notice& n) override {
    std::string text;
    Json doc;
    if (c_.format == "json") {
      Status st = n.Text(c_.common.message, &text);
      if (!st.ok()) return Outcome::Failed(st.message());
      doc = BuildDocument(n, text);
    } else {
      // Chat messages are short: one line with the link, unless a template says otherwise.
      std::string detail = n.failing_step.empty() ? "" : " (step '" + n.failing_step + "')";
      if (c_.common.message.empty()) {
        std::string head = n.build.builder + " #" + std::to_string(n.build.number);
        text = c_.format == "slack" ? "<" + n.url + "|" + head + ">: " + n.result + detail
                                    : "[" + head + "](" + n.url + "): " + n.result + detail;
        text = n.Mask(text);
      } else {
        Status st = n.Render(c_.common.message, &text);
        if (!st.ok()) return Outcome::Failed(st.message());
      }
      doc = {{"text", text}};
      if (c_.format == "mattermost") {
        doc["username"] = "Grove";
        doc["props"] = {{"grove_build", n.build.id}};
      }
      doc["attachments"] = Json::array({{{"fallback", n.Summary()},
                                         {"color", Color(n.result)},
                                         {"title", n.Summary()},
                                         {"title_link", n.url}}});
    }
    HttpPost post;
    post.url = c_.url;
    post.body = Dump(doc);
    post.headers = {"Content-Type: application/json", "User-Agent: Grove-Notifier",
                    "X-Grove-Event: build." + n.record.event,
                    // The same notice sent twice (its first outcome unknown) keeps its id: a
                    // receiver can drop the copy.
                    "X-Grove-Delivery: " + std::to_string(n.record.id)};
    if (!c_.secret.empty())
      post.headers.push_back("X-Grove-Signature-256: sha256=" +
                             HmacSha256Hex(c_.secret, post.body));
    post.ca_file = c_.ca_file;
    post.timeout_ms = c_.common.timeout_ms;
    post.aborting = aborting_;
    return Post(post, n.secrets);
  }

 private:
  WebhookNotifierConfig c_;
  const std::atomic<bool>* aborting_;
};

}  // namespace

Json BuildDocument(const Notice& n, const std::string& text) {
  Json changes = Json::array();
  for (const ChangeRecord& c : n.changes)
    changes.push_back({{"repository", c.repository},
                       {"branch", c.branch},
                       {"revision", c.revision},
                       {"author", n.Mask(c.author)},
                       {"comments", n.Mask(c.comments)}});
  Json props = Json::object();
  for (auto& [k, v] : n.build.properties.items())
    props[k] = v.is_string() ? Json(n.Mask(v.get<std::string>())) : v;
  return {{"event", "build." + n.record.event},
          {"delivery", n.record.id},
          {"project", {{"name", n.project_name}, {"url", n.project_url}}},
          {"build",
           {{"id", n.build.id},
            {"builder", n.build.builder},
            {"number", n.build.number},
            {"result", n.result},
            {"url", n.url},
            {"worker", n.build.worker},
            {"reason", n.request.reason},
            {"started_at", n.build.started_at},
            {"finished_at", n.build.finished_at ? Json(n.build.finished_at) : Json(nullptr)},
            {"failing_step", n.failing_step.empty() ? Json(nullptr) : Json(n.failing_step)},
            {"log_tail", n.log_tail},
            {"revision", n.revision},
            {"branch", n.branch},
            {"repository", n.repository},
            {"properties", props}}},
          {"changes", changes},
          {"text", text}};
}

std::unique_ptr<Notifier> MakeWebhookNotifier(const WebhookNotifierConfig& config,
                                              const NotifierEnv& env) {
  return std::make_unique<WebhookNotifier>(config, env.aborting);
}

}  // namespace grove::notify
