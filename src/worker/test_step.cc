#include "worker/test_step.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/junit.h"
#include "worker/glob_files.h"
#include "worker/path_utf8.h"

namespace grove {

namespace {

constexpr std::uintmax_t kMaxReportBytes = 256ull << 20;

Result ReadReports(const StepContext& ctx, TestSummary* summary) {
  const StepSpec& spec = *ctx.step;
  std::string dir = StepDir(ctx);
  Result r = Result::kSuccess;
  std::vector<std::string> patterns = StringOrList(spec.options, "junit");
  for (const auto& pattern : patterns) {
    std::vector<std::string> files = GlobFiles(dir, pattern);
    if (files.empty()) {
      ctx.log(fmt::format("[grove] warning: no JUnit report matches '{}'\n", pattern));
      r = WorseResult(r, Result::kWarnings);
    }
    for (const auto& f : files) {
      std::error_code ec;
      auto size = std::filesystem::file_size(Utf8Path(f), ec);
      if (ec || size > kMaxReportBytes) {
        ctx.log(fmt::format("[grove] warning: JUnit report {} skipped: {}\n", f,
                            ec ? ec.message() : "larger than 256 MiB"));
        r = WorseResult(r, Result::kWarnings);
        continue;
      }
      std::ifstream in(Utf8Path(f), std::ios::binary);
      std::stringstream buf;
      buf << in.rdbuf();
      Status st = ParseJUnit(buf.str(), summary);
      if (!st.ok()) {
        ctx.log(fmt::format("[grove] warning: cannot read JUnit report {}: {}\n", f, st.message()));
        r = WorseResult(r, Result::kWarnings);
      } else {
        ctx.log(fmt::format("[grove] read JUnit report {}\n", f));
      }
    }
  }
  return r;
}

}  // namespace

void TestStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  StepContext copy = ctx;
  shell_.Start(ctx, [copy, done](Result shell_result) {
    if (shell_result == Result::kCancelled || shell_result == Result::kException)
      return done(shell_result);
    TestSummary summary;
    Result r = ReadReports(copy, &summary);
    copy.log(fmt::format("[grove] tests: {} passed, {} failed, {} errors, {} skipped\n",
                         summary.passed, summary.failed, summary.errors, summary.skipped));
    for (const auto& f : summary.failures)
      copy.log(fmt::format("[grove]   {} {}: {}\n", f.kind == "error" ? "ERROR" : "FAILED", f.name,
                           f.message.substr(0, f.message.find('\n'))));
    if (copy.report) (*copy.report)["tests"] = ToJson(summary);
    if (summary.failed + summary.errors > 0) r = WorseResult(r, Result::kFailure);
    done(WorseResult(shell_result, r));
  });
}

}  // namespace grove
