// Notice: everything a notifier's message is made from, read from the store when the notice is
// delivered (the build is finished then and does not change): the build, its request, steps,
// the failing step's log tail, its changes and their authors. Every text that leaves the
// master through a notifier goes through Mask() first.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "store/store.h"

namespace grove::notify {

struct Notice {
  NotificationRecord record;  // the outbox row being delivered
  BuildRecord build;
  RequestRecord request;
  std::vector<StepRecord> steps;
  std::vector<ChangeRecord> changes;
  std::string result;        // "success", "failure", ...; "running" for a start notice
  std::string url;           // the build's page in the web UI
  std::string failing_step;  // the first step that failed; "" when none did
  std::string log_tail;      // its last log lines (masked)
  std::string revision, branch, repository;  // of the build's source, when it has one
  std::string project_name, project_url;
  std::vector<std::string> authors;  // of the changes, each once
  std::vector<std::string> secrets;  // masked in everything sent

  // The values of the message template fields (core/message_template.h).
  std::map<std::string, std::string> Fields() const;
  // Renders |tmpl| (masked). An unset property is an error naming it.
  Status Render(const std::string& tmpl, std::string* out) const;
  std::string Mask(std::string text) const;
  // The built-in message: result, link, reason, failing step and log tail, changes.
  std::string DefaultText() const;
  // The message: |tmpl| when set, else DefaultText(); masked.
  Status Text(const std::string& tmpl, std::string* out) const;
  // "hello #12: failure" — a one-line summary.
  std::string Summary() const;
};

// Fills |out| for outbox row |record| of a notifier with |common| options.
Status LoadNotice(Store& store, const Config& config, const NotifierCommon& common,
                  const NotificationRecord& record, Notice* out);

// The secret values of |config| (workers, notifiers, webhook receivers, and the secrets the
// steps of |builder| name), longest first.
std::vector<std::string> ConfigSecrets(const Config& config, const std::string& builder);

// The base URL of the web UI: project { url = ... } or http://<web.listen>.
std::string WebBase(const Config& config);

}  // namespace grove::notify
