#include "worker/plain_command.h"

#include <array>
#include <string_view>

#ifndef _WIN32
#include <unistd.h>

#include "worker/program_path.h"
#endif

namespace grove {
namespace {

bool PlainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+' || c == '@' ||
         c == '%' || c == '=';
}

// What the shell runs itself (POSIX special and regular builtins, keywords): run directly, they
// would be another program or none.
bool ShellOwn(std::string_view word) {
  static constexpr std::array<std::string_view, 41> kOwn = {
      ".",    ":",        "alias",  "bg",    "break",   "case",   "cd",   "command", "continue",
      "do",   "done",     "elif",   "else",  "esac",    "eval",   "exec", "exit",    "export",
      "fc",   "fg",       "fi",     "for",   "getopts", "hash",   "if",   "jobs",    "local",
      "read", "readonly", "return", "set",   "shift",   "source", "then", "times",   "trap",
      "type", "ulimit",   "umask",  "unset", "while"};
  for (auto own : kOwn)
    if (word == own) return true;
  return word == "until" || word == "wait" || word == "unalias";
}

#ifndef _WIN32
bool Executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Remembered for a second (program_path.h): a consumer's command is checked on every job.
bool OnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return Executable(program);
  return !FindOnPath(program).empty();
}
#endif

}  // namespace

bool SplitPlainCommand(const std::string& command, std::vector<std::string>* argv) {
#ifdef _WIN32
  (void)command;
  (void)argv;
  return false;  // cmd.exe quoting rules: always through the shell
#else
  std::vector<std::string> words;
  std::string word;
  for (char c : command) {
    if (c == ' ') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else if (PlainChar(c)) {
      word += c;
    } else {
      return false;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  if (words.empty() || words[0].find('=') != std::string::npos || ShellOwn(words[0]) ||
      !OnPath(words[0]))
    return false;
  *argv = std::move(words);
  return true;
#endif
}

}  // namespace grove
