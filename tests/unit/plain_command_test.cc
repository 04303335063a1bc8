// Which consumer commands run without the shell (worker/plain_command.h).
#include "worker/plain_command.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

std::vector<std::string> Split(const std::string& command) {
  std::vector<std::string> argv;
  if (!SplitPlainCommand(command, &argv)) return {"<shell>"};
  return argv;
}

TEST(PlainCommandTest, PlainWordsRunDirectly) {
  EXPECT_EQ(Split("cat"), (std::vector<std::string>{"cat"}));
  EXPECT_EQ(Split("  tr  a-z A-Z "), (std::vector<std::string>{"tr", "a-z", "A-Z"}));
  EXPECT_EQ(Split("/bin/cat --show-ends"), (std::vector<std::string>{"/bin/cat", "--show-ends"}));
}

TEST(PlainCommandTest, ShellTextGoesThroughTheShell) {
  for (const char* command :
       {"cat | tr a b", "cat > out", "echo $HOME", "echo 'a b'", "echo \"a\"", "ls *.json",
        "cat; true", "cat && true", "echo ~", "a\\ b", "(cat)", "cat &", "echo `id`",
        "cat # comment", "FOO=1 cat", "cat\tfile", ""}) {
    EXPECT_EQ(Split(command), (std::vector<std::string>{"<shell>"})) << command;
  }
}

TEST(PlainCommandTest, BuiltinsAndMissingProgramsGoThroughTheShell) {
  // The shell's own commands, and its "not found" message with exit status 127.
  for (const char* command : {"exit 3", "cd /tmp", "export A", "set -e", ". ./env",
                              "no-such-program-grove", "./not-executable-here"}) {
    EXPECT_EQ(Split(command), (std::vector<std::string>{"<shell>"})) << command;
  }
}

}  // namespace
}  // namespace grove
