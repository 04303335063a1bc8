// PublishStep: sends files to an external HTTP endpoint (docs/config.md, publish): POST as
// multipart/form-data or PUT of the raw bytes, with bearer or basic auth from a secret. Answers
// 5xx and connection errors are retried with exponential backoff; a 4xx fails the step at once
// with the server's answer in the log (secrets masked like all log text).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <vector>

#include "worker/http_call.h"
#include "worker/step_executor.h"

namespace grove {

class PublishStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;

 private:
  void Send();
  void Retry(const std::string& why);

  StepContext ctx_;
  std::function<void(Result)> done_;
  std::vector<std::string> files_;
  size_t next_ = 0;
  int attempt_ = 0;
  std::unique_ptr<HttpCall> call_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool cancelled_ = false;
};

}  // namespace grove
