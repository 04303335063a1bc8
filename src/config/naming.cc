#include "config/naming.h"

#include <algorithm>
#include <cctype>

#include "config/lua_fn.h"

namespace grove::config_internal {

namespace {

constexpr size_t kMaxNameLength = 100;

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

// Case-insensitive Levenshtein distance: "Tags" and "tgas" are both one slip from "tags".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void CheckName(std::string_view kind, const std::string& name) {
  std::string k(kind);
  if (name.empty()) throw ConfigError(k + " name must not be empty");
  if (name.size() > kMaxNameLength)
    throw ConfigError(k + " name '" + name.substr(0, 20) + "...' is longer than " +
                      std::to_string(kMaxNameLength) + " characters");
  if (!std::all_of(name.begin(), name.end(), IsNameChar) || name[0] == '.' || name[0] == '-')
    throw ConfigError("invalid " + k + " name '" + name +
                      "': use letters, digits, '.', '_' and '-' (not first)");
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  // Allow one slip in short words, two in longer ones; more would suggest unrelated names.
  size_t limit = word.size() <= 4 ? 1 : 2;
  const std::string* best = nullptr;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = &c;
      best_distance = d;
    }
  }
  return best ? " (did you mean '" + *best + "'?)" : "";
}

}  // namespace grove::config_internal
