// Windows command-line quoting (worker/windows/command_line.h), checked against a parser that
// follows the documented rules of CommandLineToArgvW / the Microsoft C runtime, and against the
// examples of Microsoft's "Parsing C++ command-line arguments" page.
#include <gtest/gtest.h>

#include "worker/windows/command_line.h"

namespace grove::windows {
namespace {

// CommandLineToArgvW's rules for the arguments after the first: whitespace separates; 2n
// backslashes + quote → n backslashes, quote toggles quoting; 2n+1 backslashes + quote → n
// backslashes + a literal quote; other backslashes are literal; "" inside quotes → a quote.
std::vector<std::string> Parse(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  // The program: up to the next quote when quoted, else up to whitespace.
  std::string prog;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) prog += line[i];
    ++i;
  } else {
    for (; i < line.size() && line[i] != ' ' && line[i] != '\t'; ++i) prog += line[i];
  }
  out.push_back(prog);
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string arg;
    bool quoted = false;
    while (i < line.size() && (quoted || (line[i] != ' ' && line[i] != '\t'))) {
      size_t n = 0;
      while (i < line.size() && line[i] == '\\') ++n, ++i;
      if (i < line.size() && line[i] == '"') {
        arg.append(n / 2, '\\');
        if (n % 2 == 1) {
          arg += '"';
          ++i;
        } else if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          ++i;
        }
      } else {
        arg.append(n, '\\');
        if (i < line.size() && (quoted || (line[i] != ' ' && line[i] != '\t'))) arg += line[i++];
      }
    }
    out.push_back(arg);
  }
  return out;
}

TEST(WindowsCommandLine, PlainArgumentsStayAsTheyAre) {
  EXPECT_EQ(BuildCommandLine({"git", "fetch", "--depth=1", "C:\\repo\\x"}),
            "git fetch --depth=1 C:\\repo\\x");
}

TEST(WindowsCommandLine, QuotesAndBackslashesFollowTheCRuntimeRules) {
  EXPECT_EQ(QuoteArgument(""), "\"\"");
  EXPECT_EQ(QuoteArgument("a b"), "\"a b\"");
  EXPECT_EQ(QuoteArgument("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(QuoteArgument("C:\\dir with space\\"), "\"C:\\dir with space\\\\\"");
  EXPECT_EQ(QuoteArgument("a\\\\\"b"), "\"a\\\\\\\\\\\"b\"");
  EXPECT_EQ(QuoteArgument("a\\b"), "a\\b");  // no quoting needed: backslashes stay single
}

TEST(WindowsCommandLine, MicrosoftsExamplesParseAsDocumented) {
  // From "Parsing C++ command-line arguments" (the input column → the argv column).
  EXPECT_EQ(Parse("p \"abc\" d e"), (std::vector<std::string>{"p", "abc", "d", "e"}));
  EXPECT_EQ(Parse("p a\\\\\\b d\"e f\"g h"),
            (std::vector<std::string>{"p", "a\\\\\\b", "de fg", "h"}));
  EXPECT_EQ(Parse("p a\\\\\\\"b c d"), (std::vector<std::string>{"p", "a\\\"b", "c", "d"}));
  EXPECT_EQ(Parse("p a\\\\\\\\\"b c\" d e"), (std::vector<std::string>{"p", "a\\\\b c", "d", "e"}));
}

TEST(WindowsCommandLine, EveryArgumentSurvivesTheRoundTrip) {
  std::vector<std::string> argv = {"C:\\Program Files\\Git\\cmd\\git.exe",
                                   "",
                                   "plain",
                                   "two words",
                                   "tab\there",
                                   "new\nline",
                                   "\"",
                                   "\\",
                                   "\\\\",
                                   "ends with \\",
                                   "a\\\"b",
                                   "\\\"\\\\\"",
                                   "%PATH% & echo ^ | <x> !y!",
                                   "ünïcödé ✓"};
  EXPECT_EQ(Parse(BuildCommandLine(argv)), argv);
}

}  // namespace
}  // namespace grove::windows
