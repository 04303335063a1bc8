// The master's artifact path checks and per-build tokens (src/master/artifact_path.h,
// artifact_tokens.h).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "master/artifact_path.h"
#include "master/artifact_tokens.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

std::string Check(const std::string& path) {
  std::string out;
  Status st = CheckArtifactPath(path, &out);
  return st.ok() ? out : "ERROR";
}

TEST(ArtifactPath, NormalisesGoodPaths) {
  EXPECT_EQ(Check("a.zip"), "a.zip");
  EXPECT_EQ(Check("releases/12/app.zip"), "releases/12/app.zip");
  EXPECT_EQ(Check("./a//b/./c"), "a/b/c");
  EXPECT_EQ(Check("..a/b..c"), "..a/b..c");  // dots inside names are fine
}

TEST(ArtifactPath, RefusesEscapes) {
  using namespace std::string_literals;
  for (const std::string& bad : {""s, "/etc/passwd"s, ".."s, "../x"s, "a/../../x"s, "a/.."s,
                                 "a\\..\\b"s, "."s, "./"s, "a/\x01"s, "x\0y"s})
    EXPECT_EQ(Check(bad), "ERROR") << bad;
  EXPECT_EQ(Check(std::string(2000, 'a')), "ERROR");
}

TEST(ArtifactPath, RefusesSymlinksOnTheWay) {
  std::string tmpl = (fs::temp_directory_path() / "grove_artifacts.XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::string root = tmpl + "/7";
  std::string full;
  ASSERT_TRUE(PrepareArtifactFile(root, "a/b/c.zip", &full).ok());
  EXPECT_EQ(full, root + "/a/b/c.zip");
  EXPECT_TRUE(fs::is_directory(root + "/a/b"));
  fs::create_directory_symlink(tmpl, root + "/link");
  Status st = PrepareArtifactFile(root, "link/x.zip", &full);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("symbolic link"), std::string::npos);
  fs::create_symlink("/etc/passwd", root + "/file-link");
  EXPECT_FALSE(PrepareArtifactFile(root, "file-link", &full).ok());
  fs::remove_all(tmpl);
}

TEST(ArtifactTokens, ValidForOneBuildOnly) {
  ArtifactTokens t(std::string(32, 'k'));
  std::string tok = t.For(5);
  EXPECT_EQ(tok.size(), 64u);
  EXPECT_TRUE(t.Valid(5, tok));
  EXPECT_FALSE(t.Valid(6, tok));
  EXPECT_FALSE(t.Valid(5, tok.substr(1)));
  EXPECT_FALSE(t.Valid(5, ""));
  ArtifactTokens other(std::string(32, 'x'));
  EXPECT_FALSE(other.Valid(5, tok));
}

TEST(ArtifactTokens, KeyIsCreatedOnceAndKept) {
  std::string tmpl = (fs::temp_directory_path() / "grove_tokens.XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::unique_ptr<ArtifactTokens> a, b;
  ASSERT_TRUE(ArtifactTokens::Open(tmpl + "/state/artifacts.key", &a).ok());
  ASSERT_TRUE(ArtifactTokens::Open(tmpl + "/state/artifacts.key", &b).ok());
  EXPECT_EQ(a->For(1), b->For(1));
  EXPECT_EQ(fs::status(tmpl + "/state/artifacts.key").permissions() & fs::perms::group_all,
            fs::perms::none);
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace grove
