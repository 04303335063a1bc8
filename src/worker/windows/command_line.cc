#include "worker/windows/command_line.h"

namespace grove::windows {

std::string QuoteArgument(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) return arg;
  std::string out = "\"";
  size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    // Backslashes are literal unless a quote follows them: then each one must be doubled.
    out.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');  // they precede the closing quote
  out += '"';
  return out;
}

std::string BuildCommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) {
      out += ' ';
      out += QuoteArgument(argv[i]);
    } else if (argv[0].find_first_of(" \t") != std::string::npos || argv[0].empty()) {
      out += '"' + argv[0] + '"';  // the program's name: no escapes apply to the first word
    } else {
      out += argv[0];
    }
  }
  return out;
}

}  // namespace grove::windows
