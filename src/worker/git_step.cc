#include "worker/git_step.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/json_fields.h"
#include "worker/path_utf8.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

std::string Str(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

std::string TrimSpace(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

}  // namespace

void GitStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  const Json& o = spec.options;
  const Json& source = ctx.job->source;
  std::string repo = Str(o, "repo");
  if (repo.empty()) repo = Str(source, "repository");
  // The source stamp wins, then the build's properties (a force form's branch/revision), then
  // the step's own settings.
  const Json& props = ctx.properties ? *ctx.properties : Json::object();
  std::string branch = Str(source, "branch");
  if (branch.empty()) branch = Str(props, "branch");
  if (branch.empty()) branch = Str(o, "branch");
  std::string revision = Str(source, "revision");
  if (revision.empty()) revision = Str(props, "revision");
  if (revision.empty()) revision = Str(o, "revision");
  std::string mode = Str(o, "mode");
  bool shallow = BoolOr(o, "shallow", false);
  bool submodules = BoolOr(o, "submodules", false);
  if (repo.empty()) {
    ctx.log("[grove] git step: no repository (set repo = in the step or a source stamp)\n");
    return done(Result::kException);
  }

  fs::path dir = Utf8Path(StepDir(ctx));
  std::error_code ec;
  if (mode == "full") {
    // A clean checkout: nothing from the previous build survives.
    ctx.log(fmt::format("[grove] mode full: removing {}\n", PathUtf8(dir)));
    fs::remove_all(dir, ec);
    if (ec) {
      ctx.log(fmt::format("[grove] cannot remove {}: {}\n", PathUtf8(dir), ec.message()));
      return done(Result::kException);
    }
  }
  fs::create_directories(dir, ec);

  ChildOptions base;
  base.workdir = PathUtf8(dir);
  base.timeout = std::chrono::seconds(spec.timeout_s);
  base.env = spec.env;
  base.env["GIT_TERMINAL_PROMPT"] = "0";  // never wait for a password on a terminal
  std::vector<SequenceCommand> cmds;
  if (!fs::exists(dir / ".git")) cmds.push_back({{"git", "init", "-q"}});
  std::vector<std::string> fetch = {"git", "fetch", "--no-tags", "--force"};
  if (shallow) fetch.push_back("--depth=1");
  fetch.push_back(repo);
  // Fetch the branch (or the remote's HEAD); a revision is then looked up in what came.
  fetch.push_back(branch.empty() ? std::string("HEAD") : "+refs/heads/" + branch);
  cmds.push_back({fetch});
  if (!revision.empty() && shallow) {
    // A shallow fetch of the branch may not reach the revision: fetch it by name too.
    cmds.push_back({{"git", "fetch", "--no-tags", "--depth=1", repo, revision}});
  }
  cmds.push_back({{"git", "-c", "advice.detachedHead=false", "checkout", "-f", "--detach",
                   revision.empty() ? std::string("FETCH_HEAD") : revision}});
  if (submodules) {
    std::vector<std::string> sub = {"git",    "submodule",   "update",
                                    "--init", "--recursive", "--force"};
    if (shallow) sub.push_back("--depth=1");
    cmds.push_back({sub});
  }
  cmds.push_back({{"git", "rev-parse", "HEAD"}, /*capture=*/true});
  seq_ = std::make_unique<CommandSequence>(*ctx.io, base, ctx.log);
  Json* report = ctx.report;
  auto log = ctx.log;
  seq_->Run(std::move(cmds), [report, log, done](Result r, std::vector<std::string> captured) {
    if (r == Result::kSuccess && !captured.empty()) {
      std::string rev = TrimSpace(captured.back());
      if (report) (*report)["properties"]["got_revision"] = rev;
      log(fmt::format("[grove] got_revision = {}\n", rev));
    }
    done(r);
  });
}

void GitStep::Cancel() {
  if (seq_) seq_->Cancel();
}
void GitStep::PauseOutput() {
  if (seq_) seq_->PauseOutput();
}
void GitStep::ResumeOutput() {
  if (seq_) seq_->ResumeOutput();
}

}  // namespace grove
