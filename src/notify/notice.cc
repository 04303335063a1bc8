#include "notify/notice.h"

#include <algorithm>
#include <set>

#include "config/secrets.h"
#include "core/clock.h"
#include "core/interpolate.h"
#include "core/message_template.h"
#include "core/secret_mask.h"

namespace grove::notify {

namespace {

// The log tail is read from at most this many bytes at the end of the step's log.
constexpr int64_t kTailBytes = 256 * 1024;
constexpr size_t kMaxLineBytes = 1000;

std::string Duration(int64_t ms) {
  int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60) + "m";
}

std::string LastLines(const std::string& text, int n) {
  if (n <= 0) return "";
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > kMaxLineBytes) line = line.substr(0, kMaxLineBytes) + "…";
    lines.push_back(std::move(line));
    start = end + 1;
  }
  size_t from = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  std::string out;
  for (size_t i = from; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::string FirstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

std::string JsonText(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const Json& v = j[key];
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

std::string WebBase(const Config& config) {
  std::string base =
      config.project_url.empty() ? "http://" + config.web.listen : config.project_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::vector<std::string> ConfigSecrets(const Config& config, const std::string& builder) {
  std::set<std::string> values;
  for (const auto& w : config.workers) values.insert(w.secret);
  for (const auto& [k, v] : config.webhooks.secrets) values.insert(v);
  for (const auto& e : config.notify.email) values.insert(e.smtp.password);
  for (const auto& i : config.notify.irc) values.insert(i.password);
  for (const auto& w : config.notify.webhook) values.insert(w.secret);
  for (const auto& s : config.notify.status) values.insert(s.token);
  if (const BuilderConfig* bc = config.FindBuilder(builder)) {
    std::set<std::string> names;
    for (const StepSpec& s : bc->steps) {
      CollectSecretNames(s.command, &names);
      for (const auto& a : s.argv) CollectSecretNames(a, &names);
      for (const auto& [k, v] : s.env) CollectSecretNames(v, &names);
      CollectSecretNamesInJson(s.options, &names);
    }
    for (const std::string& name : names) {
      std::string value;
      if (config_internal::ResolveSecret(config.base_dir, name, &value).ok()) values.insert(value);
    }
  }
  values.erase("");
  std::vector<std::string> out(values.begin(), values.end());
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

Status LoadNotice(Store& store, const Config& config, const NotifierCommon& common,
                  const NotificationRecord& record, Notice* out) {
  Notice n;
  n.record = record;
  GROVE_RETURN_IF_ERROR(store.GetBuild(record.build_id, &n.build));
  (void)store.GetRequest(n.build.request_id, &n.request);
  GROVE_RETURN_IF_ERROR(store.ListSteps(n.build.id, &n.steps));
  (void)store.ChangesOfRequest(n.build.request_id, &n.changes);
  n.secrets = ConfigSecrets(config, n.build.builder);
  n.project_name = config.project_name;
  n.project_url = config.project_url;
  n.url = WebBase(config) + "/ui/builds/" + std::to_string(n.build.id);
  if (record.event == "started" || n.build.result < 0) {
    n.result = "running";
  } else {
    n.result = std::string(ResultName(static_cast<Result>(n.build.result)));
  }
  for (const StepRecord& s : n.steps) {
    if (s.result != static_cast<int>(Result::kFailure) &&
        s.result != static_cast<int>(Result::kException))
      continue;
    n.failing_step = s.name.empty() ? "step " + std::to_string(s.idx) : s.name;
    if (common.log_lines > 0 && s.log_bytes > 0) {
      std::string text;
      int64_t total = 0;
      int64_t from = std::max<int64_t>(0, s.log_bytes - kTailBytes);
      if (store.ReadLog(n.build.id, s.idx, from, kTailBytes, &text, &total).ok())
        n.log_tail = n.Mask(LastLines(text, common.log_lines));
    }
    break;
  }
  // The source: the newest change, else the request's source stamp, else the properties.
  if (!n.changes.empty()) {
    const ChangeRecord& c =
        *std::max_element(n.changes.begin(), n.changes.end(),
                          [](const ChangeRecord& a, const ChangeRecord& b) { return a.id < b.id; });
    n.revision = c.revision;
    n.branch = c.branch;
    n.repository = c.repository;
  }
  for (const auto& [field, key] :
       {std::pair{&n.revision, "revision"}, std::pair{&n.branch, "branch"},
        std::pair{&n.repository, "repository"}}) {
    if (field->empty()) *field = JsonText(n.request.source, key);
    if (field->empty()) *field = JsonText(n.build.properties, key);
  }
  std::set<std::string> seen;
  for (const ChangeRecord& c : n.changes)
    if (!c.author.empty() && seen.insert(c.author).second) n.authors.push_back(c.author);
  *out = std::move(n);
  return Status::Ok();
}

std::string Notice::Mask(std::string text) const {
  return secrets.empty() ? text : MaskSecrets(text, secrets);
}

std::map<std::string, std::string> Notice::Fields() const {
  std::string changes_text, authors_text;
  for (const ChangeRecord& c : changes)
    changes_text += c.revision.substr(0, 12) + " " + c.author + ": " + FirstLine(c.comments) + "\n";
  for (const std::string& a : authors) authors_text += (authors_text.empty() ? "" : ", ") + a;
  const int64_t end = build.finished_at ? build.finished_at : build.started_at;
  return {
      {"build.id", std::to_string(build.id)},
      {"build.builder", build.builder},
      {"build.number", std::to_string(build.number)},
      {"build.result", result},
      {"build.event", record.event},
      {"build.url", url},
      {"build.worker", build.worker},
      {"build.reason", request.reason},
      {"build.started_at", build.started_at ? FormatIsoMs(build.started_at) : ""},
      {"build.finished_at", build.finished_at ? FormatIsoMs(build.finished_at) : ""},
      {"build.duration", Duration(end - build.started_at)},
      {"build.failing_step", failing_step},
      {"build.log_tail", log_tail},
      {"build.changes", changes_text},
      {"build.authors", authors_text},
      {"build.revision", revision},
      {"build.branch", branch},
      {"build.repository", repository},
      {"project.name", project_name},
      {"project.url", project_url},
  };
}

Status Notice::Render(const std::string& tmpl, std::string* out) const {
  std::string text;
  GROVE_RETURN_IF_ERROR(RenderMessageTemplate(tmpl, Fields(), build.properties, &text));
  *out = Mask(std::move(text));
  return Status::Ok();
}

std::string Notice::Summary() const {
  return build.builder + " #" + std::to_string(build.number) + ": " + result;
}

std::string Notice::DefaultText() const {
  std::string t = "Build " + build.builder + " #" + std::to_string(build.number) + " " +
                  (record.event == "started" ? "started" : "finished: " + result) + "\n" + url +
                  "\n\n";
  if (!request.reason.empty()) t += "Reason:   " + request.reason + "\n";
  if (!build.worker.empty()) t += "Worker:   " + build.worker + "\n";
  if (!revision.empty())
    t += "Revision: " + revision + (branch.empty() ? "" : " (" + branch + ")") + "\n";
  const int64_t end = build.finished_at ? build.finished_at : build.started_at;
  if (record.event != "started") t += "Duration: " + Duration(end - build.started_at) + "\n";
  if (!failing_step.empty()) t += "Failed:   step '" + failing_step + "'\n";
  if (!changes.empty()) {
    t += "\nChanges:\n";
    for (const ChangeRecord& c : changes)
      t += "  " + c.revision.substr(0, 12) + " " + c.author + ": " + FirstLine(c.comments) + "\n";
  }
  if (!log_tail.empty()) {
    t += "\nLast lines of the log of step '" + failing_step + "':\n" + log_tail;
  }
  return Mask(std::move(t));
}

Status Notice::Text(const std::string& tmpl, std::string* out) const {
  if (tmpl.empty()) {
    *out = DefaultText();
    return Status::Ok();
  }
  return Render(tmpl, out);
}

}  // namespace grove::notify
