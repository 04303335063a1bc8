// BuildDirs: a directory per running job, BUILDER.2 and so on while the same builder runs twice.
#include "worker/build_dirs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace grove {
namespace {

TEST(BuildDirsTest, ConcurrentJobsOfABuilderGetDirectoriesOfTheirOwn) {
  BuildDirs dirs("work");
  const std::string base = (std::filesystem::current_path() / "work" / "app").string();
  const std::string a = dirs.Acquire("app");
  const std::string b = dirs.Acquire("app");
  const std::string c = dirs.Acquire("app");
  EXPECT_EQ(a, base);
  EXPECT_EQ(b, base + ".2");
  EXPECT_EQ(c, base + ".3");
  dirs.Release(b);
  EXPECT_EQ(dirs.Acquire("app"), base + ".2");  // the free one, not a fourth
  dirs.Release(a);
  EXPECT_EQ(dirs.Acquire("app"), base);
  EXPECT_EQ(dirs.Acquire("lib"), (std::filesystem::current_path() / "work" / "lib").string());
}

TEST(BuildDirsTest, NamesAreMadeSafe) {
  BuildDirs dirs("/w");
  EXPECT_EQ(dirs.Acquire("a/b c"), "/w/a_b_c");
  EXPECT_EQ(dirs.Acquire(".."), "/w/_..");
  EXPECT_EQ(dirs.Acquire("a/b c"), "/w/a_b_c.2");
}

TEST(BuildDirsTest, ManyBuildersStayCorrect) {
  BuildDirs dirs("/w");
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "b" + std::to_string(i);
    ASSERT_EQ(dirs.Acquire(name), "/w/" + name);
    dirs.Release("/w/" + name);
  }
  EXPECT_EQ(dirs.Acquire("b7"), "/w/b7");
  EXPECT_EQ(dirs.Acquire("b7"), "/w/b7.2");
}

}  // namespace
}  // namespace grove
