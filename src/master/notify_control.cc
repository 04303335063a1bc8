#include "master/notify_control.h"

#include "master/api_json.h"
#include "master/controller.h"
#include "master/read_pool.h"

namespace grove {

namespace {

class MasterBuildControl : public notify::BuildControl {
 public:
  MasterBuildControl(Controller& c, ReadPool& r) : controller_(c), reads_(r) {}

  void Force(const std::string& builder, const std::string& reason,
             std::function<void(Status, int64_t)> done) override {
    ForceArgs args;
    args.builder = builder;
    args.reason = reason;
    controller_.Force(std::move(args), std::move(done));
  }

  void DescribeQueue(std::function<void(Status, Json)> done) override {
    controller_.DescribeQueue(std::move(done));
  }

  void LastBuild(const std::string& builder, std::function<void(Status, Json)> done) override {
    reads_.Run([builder, done = std::move(done)](Store& store) {
      std::vector<BuildRecord> builds;
      Status st = store.ListBuilds(builder, 0, 1, &builds);
      if (!st.ok()) return done(st, nullptr);
      done(Status::Ok(), builds.empty() ? Json(nullptr) : BuildJson(builds[0]));
    });
  }

 private:
  Controller& controller_;
  ReadPool& reads_;
};

}  // namespace

std::unique_ptr<notify::BuildControl> MakeBuildControl(Controller& controller, ReadPool& reads) {
  return std::make_unique<MasterBuildControl>(controller, reads);
}

}  // namespace grove
