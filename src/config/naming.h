// Names in grove.lua: what makes a valid one, and suggestions for misspelled ones.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grove::config_internal {

// Throws ConfigError unless |name| is a valid |kind| name ("worker", "builder", "scheduler").
// Names travel in URLs, file names and queue names, so they are kept to a safe alphabet.
void CheckName(std::string_view kind, const std::string& name);

// " (did you mean 'timeout'?)" when one of |candidates| is a likely intended spelling of |word|,
// else "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace grove::config_internal
