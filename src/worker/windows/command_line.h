// Windows command lines. A Windows program receives one string, not an argv: most programs split
// it with the rules of CommandLineToArgvW (the C runtime's), which this quoting inverts. Pure
// string logic, tested on Linux (tests/unit/windows_command_line_test.cc).
#pragma once

#include <string>
#include <vector>

namespace grove::windows {

// |arg| quoted so that CommandLineToArgvW gives it back unchanged: as is when it has no space,
// tab, newline or double quote; else in double quotes, with a quote escaped as \" and the
// backslashes before a quote (or before the closing quote) doubled.
std::string QuoteArgument(const std::string& arg);

// argv[0] (the program: quoted without escapes, as CommandLineToArgvW reads the first word)
// followed by the other arguments quoted by QuoteArgument.
std::string BuildCommandLine(const std::vector<std::string>& argv);

}  // namespace grove::windows
