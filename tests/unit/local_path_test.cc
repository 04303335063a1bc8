// The checks of relative paths a step asks the worker to create or enter (worker/local_path.h),
// with the Linux rules and the Windows ones (pure string logic, so tested here).
#include "worker/local_path.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

bool Ok(const std::string& rel, PathRules rules) {
  return CheckRelativePath(rel, rules, "workdir").ok();
}

TEST(LocalPath, PosixAcceptsRelativePathsThatStayInside) {
  for (const char* p : {"", "src", "src/app", "./out", "a/./b", "con", "a:b", "x.", "dir\\..\\up"})
    EXPECT_TRUE(Ok(p, PathRules::kPosix)) << p;
}

TEST(LocalPath, PosixRefusesAbsoluteAndClimbingPaths) {
  for (const char* p : {"/etc", "..", "../x", "a/../../x", "a/.."})
    EXPECT_FALSE(Ok(p, PathRules::kPosix)) << p;
}

TEST(LocalPath, WindowsTreatsBackslashAsSeparatorAndRefusesDrives) {
  EXPECT_TRUE(Ok("src\\app", PathRules::kWindows));
  EXPECT_TRUE(Ok("src/app\\x.zip", PathRules::kWindows));
  for (const char* p : {"..\\x", "a\\..", "\\windows", "C:\\x", "c:x", "D:", "\\\\server\\share"})
    EXPECT_FALSE(Ok(p, PathRules::kWindows)) << p;
}

TEST(LocalPath, WindowsRefusesReservedNames) {
  for (const char* p :
       {"con", "CON", "aux.txt", "out\\nul", "Com1", "lpt9.log", "prn", "a/CONOUT$", "con .txt"})
    EXPECT_FALSE(Ok(p, PathRules::kWindows)) << p;
  for (const char* p : {"console", "com10", "lpt0", "auxiliary.txt", "nul_dir", "com"})
    EXPECT_TRUE(Ok(p, PathRules::kWindows)) << p;
}

TEST(LocalPath, WindowsRefusesForbiddenCharactersAndTrailingDotsOrSpaces) {
  for (const char* p :
       {"a:b", "x?", "a*b", "a<b", "a>b", "a|b", "a\"b", "dir.", "dir ", "a/b ./c", "tab\there"})
    EXPECT_FALSE(Ok(p, PathRules::kWindows)) << p;
  EXPECT_TRUE(Ok("./a/./b", PathRules::kWindows));
}

TEST(LocalPath, ErrorsNameThePathAndTheRule) {
  Status st = CheckRelativePath("out\\aux", PathRules::kWindows, "workdir 'out\\aux'");
  EXPECT_EQ(st.message(), "workdir 'out\\aux': 'aux' is a device name that Windows reserves");
  st = CheckRelativePath("out:x", PathRules::kWindows, "destination 'out:x'");
  EXPECT_EQ(st.message(), "destination 'out:x': Windows forbids the character ':' in file names");
}

}  // namespace
}  // namespace grove
