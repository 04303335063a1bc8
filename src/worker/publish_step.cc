#include "worker/publish_step.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "core/json_fields.h"
#include "worker/artifact_steps.h"
#include "worker/glob_files.h"
#include "worker/path_utf8.h"

namespace grove {

namespace fs = std::filesystem;

void PublishStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  ctx_ = ctx;
  done_ = std::move(done);
  timer_ = std::make_unique<boost::asio::steady_timer>(*ctx.io);
  const StepSpec& spec = *ctx.step;
  std::string dir = StepDir(ctx);
  for (const auto& pattern : StringOrList(spec.options, "files")) {
    std::vector<std::string> matched = GlobFiles(dir, pattern);
    if (matched.empty()) {
      ctx.log(fmt::format("[grove] publish: no file matches '{}'\n", pattern));
      return done_(Result::kFailure);
    }
    for (const auto& f : matched) {
      std::string why;
      if (!InsideBuildDir(ctx.builddir, f, &why)) {
        ctx.log(fmt::format("[grove] publish: refusing {}: {}\n", f, why));
        return done_(Result::kFailure);
      }
      files_.push_back(f);
    }
  }
  Send();
}

void PublishStep::Send() {
  if (cancelled_) return done_(Result::kCancelled);
  if (next_ >= files_.size()) return done_(Result::kSuccess);
  const Json& o = ctx_.step->options;
  const std::string& file = files_[next_];
  std::string name = PathUtf8(Utf8Path(file).filename());
  HttpRequestSpec spec;
  spec.method = StringOr(o, "method", "POST");
  spec.url = StringOr(o, "url", "");
  if (spec.method == "PUT" && !spec.url.empty() && spec.url.back() == '/')
    spec.url += HttpCall::EscapePath(name);
  spec.body_file = file;
  spec.multipart_field = StringOr(o, "field", "file");
  if (o.contains("headers") && o["headers"].is_object())
    for (auto& [k, v] : o["headers"].items())
      if (v.is_string()) spec.headers.push_back(k + ": " + v.get<std::string>());
  std::string auth = StringOr(o, "auth", "");
  if (!auth.empty()) {
    if (StringOr(o, "auth_type", "bearer") == "basic")
      spec.userpwd = auth;
    else
      spec.headers.push_back("Authorization: Bearer " + auth);
  }
  if (spec.method == "PUT") spec.headers.push_back("Content-Type: application/octet-stream");
  ctx_.log(fmt::format("[grove] publishing {} to {} ({}{})\n", name, spec.url, spec.method,
                       attempt_ ? fmt::format(", attempt {}", attempt_ + 1) : ""));
  call_ = HttpCall::Start(*ctx_.io, spec, [this, name](HttpOutcome out) {
    if (out.cancelled) return done_(Result::kCancelled);
    if (!out.error.empty()) return Retry(out.error);
    if (out.status >= 500)
      return Retry(fmt::format("HTTP {}: {}", out.status, out.body.substr(0, 2000)));
    if (out.status >= 400 || out.status < 200) {
      ctx_.log(fmt::format("[grove] publish of {} refused (HTTP {}): {}\n", name, out.status,
                           out.body.substr(0, 4000)));
      return done_(Result::kFailure);
    }
    ctx_.log(fmt::format("[grove] published {} (HTTP {})\n", name, out.status));
    attempt_ = 0;
    ++next_;
    boost::asio::post(*ctx_.io, [this] { Send(); });
  });
}

void PublishStep::Retry(const std::string& why) {
  const Json& o = ctx_.step->options;
  int retries = static_cast<int>(IntOr(o, "retries", 3));
  if (attempt_ >= retries) {
    ctx_.log(fmt::format("[grove] publish failed after {} attempts: {}\n", attempt_ + 1, why));
    return done_(Result::kFailure);
  }
  // 1 s, 2 s, 4 s, ... (at most 60 s); retry_delay_ms scales it (tests use a small one).
  int64_t base = std::clamp<int64_t>(IntOr(o, "retry_delay_ms", 1000), 0, 60000);
  int64_t delay = std::min<int64_t>(base << std::min(attempt_, 10), 60000);
  ++attempt_;
  ctx_.log(fmt::format("[grove] publish: {}; retrying in {} ms\n", why, delay));
  timer_->expires_after(std::chrono::milliseconds(delay));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (cancelled_) return done_(Result::kCancelled);
    if (!ec) Send();
  });
}

void PublishStep::Cancel() {
  cancelled_ = true;
  if (call_) call_->Cancel();    // an in-flight call reports the cancel
  if (timer_) timer_->cancel();  // a backoff wait reports it (see Retry)
}

}  // namespace grove
