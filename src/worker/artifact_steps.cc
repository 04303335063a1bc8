#include "worker/artifact_steps.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "core/json_fields.h"
#include "worker/glob_files.h"
#include "worker/path_utf8.h"
#include "worker/platform.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

std::string ArtifactUrl(const StepContext& ctx, const std::string& build, const std::string& path) {
  std::string base = ctx.master_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v1/builds/" + build + "/artifacts/" + HttpCall::EscapePath(path);
}

std::string FirstLine(const std::string& body) {
  std::string s = body.substr(0, 2000);
  return s;
}

}  // namespace

bool InsideBuildDir(const std::string& dir, const std::string& file, std::string* why) {
  std::error_code ec;
  fs::file_status st = fs::symlink_status(Utf8Path(file), ec);
  if (ec || !fs::exists(st)) {
    *why = "cannot read it";
    return false;
  }
  if (fs::is_symlink(st)) {
    *why = "it is a symbolic link";
    return false;
  }
  if (!fs::is_regular_file(st)) {
    *why = "it is not a regular file";
    return false;
  }
  fs::path real_dir = fs::canonical(Utf8Path(dir), ec);
  if (ec) {
    *why = "the build directory cannot be resolved";
    return false;
  }
  fs::path real = fs::canonical(Utf8Path(file), ec);
  if (ec) {
    *why = "it cannot be resolved";
    return false;
  }
  auto rel = real.lexically_relative(real_dir);
  if (rel.empty() || *rel.begin() == "..") {
    *why = "it is outside the build directory (through a linked directory)";
    return false;
  }
  return true;
}

void UploadStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  ctx_ = ctx;
  done_ = std::move(done);
  const Json& o = ctx.step->options;
  if (ctx.job->build_id == 0 || ctx.job->token.empty() || ctx.master_url.empty()) {
    ctx.log("[grove] upload: this job has no artifact token (the master is too old?)\n");
    return done_(Result::kException);
  }
  std::string to;
  if (Status st = ToArtifactName(StringOr(o, "to", ""), &to); !st.ok()) {
    ctx.log(fmt::format("[grove] upload: {}\n", st.message()));
    return done_(Result::kFailure);
  }
  std::string dir = StepDir(ctx);
  for (const auto& pattern : StringOrList(o, "files")) {
    std::vector<std::string> matched = GlobFiles(dir, pattern);
    if (matched.empty()) {
      ctx.log(fmt::format("[grove] upload: no file matches '{}'\n", pattern));
      return done_(Result::kFailure);
    }
    for (const auto& f : matched) {
      std::string why;
      if (!InsideBuildDir(ctx.builddir, f, &why)) {
        ctx.log(fmt::format("[grove] upload: refusing {}: {}\n", f, why));
        return done_(Result::kFailure);
      }
      std::string name = PathUtf8(Utf8Path(f).filename());
      std::string dest = to.empty() ? name : (to.back() == '/' ? to + name : to);
      if (!to.empty() && to.back() != '/' && matched.size() > 1) dest = to + "/" + name;
      files_.emplace_back(f, dest);
    }
  }
  Next();
}

void UploadStep::Next() {
  if (cancelled_) return done_(Result::kCancelled);
  if (next_ >= files_.size()) return done_(Result::kSuccess);
  auto [local, dest] = files_[next_++];
  ctx_.log(fmt::format("[grove] uploading {} as artifact {}\n", local, dest));
  HttpRequestSpec spec;
  spec.method = "PUT";
  spec.url = ArtifactUrl(ctx_, std::to_string(ctx_.job->build_id), dest);
  spec.body_file = local;
  spec.headers.push_back("Authorization: Bearer " + ctx_.job->token);
  spec.headers.push_back("Content-Type: application/octet-stream");
  call_ = HttpCall::Start(*ctx_.io, spec, [this, dest](HttpOutcome out) {
    if (out.cancelled) return done_(Result::kCancelled);
    if (!out.error.empty()) {
      ctx_.log(fmt::format("[grove] upload of {} failed: {}\n", dest, out.error));
      return done_(Result::kFailure);
    }
    if (out.status != 201 && out.status != 200) {
      ctx_.log(fmt::format("[grove] upload of {} refused by the master (HTTP {}): {}\n", dest,
                           out.status, FirstLine(out.body)));
      return done_(Result::kFailure);
    }
    Json j = ParseUntrusted(out.body);
    if (j.is_object())
      ctx_.log(fmt::format("[grove]   {} bytes, sha256 {}\n", IntOr(j, "size", 0),
                           StringOr(j, "sha256", "")));
    // Leave the call's callback before the next call replaces it.
    boost::asio::post(*ctx_.io, [this] { Next(); });
  });
}

void UploadStep::Cancel() {
  cancelled_ = true;
  if (call_) call_->Cancel();
}

void DownloadStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const Json& o = ctx.step->options;
  std::string build = StringOr(o, "build", "");
  std::string path = StringOr(o, "path", "");
  std::string to = StringOr(o, "to", path);
  if (Status st = ToArtifactName(path, &path); !st.ok()) {
    ctx.log(fmt::format("[grove] download: {}\n", st.message()));
    return done(Result::kFailure);
  }
  if (build.empty() || path.empty() || ctx.master_url.empty()) {
    ctx.log("[grove] download: needs a build, a path and the master's URL\n");
    return done(Result::kException);
  }
  // The destination was checked in grove.lua, but ${prop:...} may have changed it since, and
  // only this worker knows its file system's rules (Windows: no drive, no CON, no ':').
  std::string dest_path;
  Status checked = PathInBuildDir(StepDir(ctx), to, &dest_path);
  fs::path dest = Utf8Path(dest_path);
  fs::path rel =
      dest.lexically_normal().lexically_relative(Utf8Path(ctx.builddir).lexically_normal());
  if (to.empty() || !checked.ok() || rel.empty() || *rel.begin() == "..") {
    ctx.log(fmt::format("[grove] download: destination '{}' refused: {}\n", to,
                        checked.ok() ? "it is outside the build directory" : checked.message()));
    return done(Result::kFailure);
  }
  ctx.log(fmt::format("[grove] downloading artifact {} of build {} to {}\n", path, build,
                      PathUtf8(dest)));
  HttpRequestSpec spec;
  spec.url = ArtifactUrl(ctx, build, path);
  spec.save_to = PathUtf8(dest);
  auto log = ctx.log;
  call_ = HttpCall::Start(*ctx.io, spec, [log, done, path](HttpOutcome out) {
    if (out.cancelled) return done(Result::kCancelled);
    if (!out.error.empty()) {
      log(fmt::format("[grove] download of {} failed: {}\n", path, out.error));
      return done(Result::kFailure);
    }
    if (out.status != 200) {
      log(fmt::format("[grove] download of {} failed (HTTP {}): {}\n", path, out.status,
                      FirstLine(out.body)));
      return done(Result::kFailure);
    }
    done(Result::kSuccess);
  });
}

void DownloadStep::Cancel() {
  if (call_) call_->Cancel();
}

}  // namespace grove
