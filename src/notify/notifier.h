// Notifier: one target (a mail server, an IRC network, a webhook, a forge's commit status API)
// behind one interface. The delivery lane of each notifier (service.h) calls Deliver for one
// notice at a time on its own thread, so a slow or unreachable server delays only its own
// notices.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "notify/notice.h"

namespace grove::notify {

// What became of one attempt.
struct Outcome {
  enum class Kind { kSent, kRetry, kFailed };
  Kind kind = Kind::kSent;
  // The server's answer ("250 2.0.0 Ok: queued", "HTTP 503: ..."), or why it was not reached.
  std::string answer;

  static Outcome Sent(std::string answer = "") { return {Kind::kSent, std::move(answer)}; }
  // A temporary failure: tried again later (connection refused, timeout, 4xx SMTP, 5xx HTTP).
  static Outcome Retry(std::string answer) { return {Kind::kRetry, std::move(answer)}; }
  // A permanent one: trying again cannot help (login refused, recipient refused, template error).
  static Outcome Failed(std::string answer) { return {Kind::kFailed, std::move(answer)}; }
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Sends |notice|. Blocks at most about the notifier's timeout.
  virtual Outcome Deliver(const Notice& notice) = 0;
  // Takes a new configuration of the same notifier; false when it must be replaced instead
  // (the IRC bot keeps its connection when only what it says changed).
  virtual bool Update(const Config&) { return false; }
  // Ends background work (the IRC bot's connection). Deliver is not called after.
  virtual void Stop() {}
};

}  // namespace grove::notify
