// A consumer's command such as "cat" or "/opt/app/bin/recalc --batch": run by the shell, it
// costs a second process (dash forks the program rather than exec it), which was half the cost
// of a command consumer's job. Plain commands are run directly instead.
#pragma once

#include <string>
#include <vector>

namespace grove {

// True, with |argv|, when |command| means the same run directly as through `sh -c`: words of
// plain characters only (no quotes, $, globs, ~, redirections, separators or escapes), the
// first no assignment and no shell builtin or keyword, and a program found on the worker's
// PATH (or an executable path) — so that a missing program still gets the shell's message.
bool SplitPlainCommand(const std::string& command, std::vector<std::string>* argv);

}  // namespace grove
