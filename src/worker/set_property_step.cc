#include "worker/set_property_step.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_fields.h"
#include "worker/command_sequence.h"
#include "worker/path_utf8.h"
#include "worker/platform.h"

namespace grove {

namespace {

constexpr size_t kMaxValue = 64 * 1024;

std::string TrimBlanks(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

void SetPropertyStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  std::string property = StringOr(spec.options, "property", "");
  std::string file = StringOr(spec.options, "file", "");
  std::string dir = StepDir(ctx);
  Json* report = ctx.report;
  auto log = ctx.log;
  auto set = [report, log, property](const std::string& raw) {
    std::string value = TrimBlanks(raw);
    if (value.size() > kMaxValue) {
      log(fmt::format("[grove] the value for property '{}' is larger than 64 KiB\n", property));
      return Result::kFailure;
    }
    if (report) (*report)["properties"][property] = value;
    log(fmt::format("[grove] property {} = {}\n", property, value));
    return Result::kSuccess;
  };
  if (!file.empty()) {
    std::filesystem::path path = Utf8Path(dir) / Utf8Path(file);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      log(fmt::format("[grove] cannot read {} for property '{}'\n", PathUtf8(path), property));
      return done(Result::kFailure);
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return done(set(buf.str()));
  }
  ChildOptions opts;
  if (!spec.argv.empty()) {
    opts.argv = spec.argv;
  } else if (Status st = SetShellCommand(spec.command, ShellOf(spec), &opts); !st.ok()) {
    log(fmt::format("[grove] {}\n", st.message()));
    return done(Result::kException);
  }
  opts.env = spec.env;
  opts.workdir = dir;
  opts.timeout = std::chrono::seconds(spec.timeout_s);
  int64_t timeout = spec.timeout_s;
  child_ = ChildProcess::Start(
      *ctx.io, opts,
      [this, log](std::string_view chunk) {
        if (output_.size() <= kMaxValue) output_.append(chunk);
        log(chunk);
      },
      [this, log, done, timeout, set](const ChildExit& exit) {
        Result r = ResultOfExit(exit, timeout, nullptr, log);
        if (r != Result::kSuccess) return done(r);
        done(set(output_));
      });
}

void SetPropertyStep::Cancel() {
  if (child_) child_->Cancel();
}

}  // namespace grove
