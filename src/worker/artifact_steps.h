// The artifact steps, talking to the master's artifact API (docs/api.md) with the build's token:
//  - UploadStep: files matching globs (relative to the build directory) to the build's artifacts
//    under a prefix. Symbolic links and files outside the build directory are refused.
//  - DownloadStep: one artifact of a build (this one by default) to a file in the build directory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/http_call.h"
#include "worker/step_executor.h"

namespace grove {

class UploadStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;

 private:
  void Next();

  StepContext ctx_;
  std::function<void(Result)> done_;
  std::vector<std::pair<std::string, std::string>> files_;  // local path, artifact path
  size_t next_ = 0;
  std::unique_ptr<HttpCall> call_;
  bool cancelled_ = false;
};

class DownloadStep : public StepExecutor {
 public:
  void Start(const StepContext& ctx, std::function<void(Result)> done) override;
  void Cancel() override;

 private:
  std::unique_ptr<HttpCall> call_;
};

// Whether |file| may leave the worker as part of build directory |dir|: a regular file (not a
// symbolic link) whose real path is inside |dir|'s real path. Sets *why when not.
bool InsideBuildDir(const std::string& dir, const std::string& file, std::string* why);

}  // namespace grove
