#include "worker/local_path.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace grove {

namespace {

bool IsReservedWindowsName(std::string_view part) {
  // The device names apply to the name before the first dot, after trailing spaces ("CON .txt").
  std::string_view stem = part.substr(0, part.find('.'));
  while (!stem.empty() && stem.back() == ' ') stem.remove_suffix(1);
  std::string upper;
  for (char c : stem)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  static constexpr std::array<std::string_view, 4> kNames = {"CON", "PRN", "AUX", "NUL"};
  if (std::find(kNames.begin(), kNames.end(), upper) != kNames.end()) return true;
  if (upper == "CONIN$" || upper == "CONOUT$") return true;
  return upper.size() == 4 && (upper.starts_with("COM") || upper.starts_with("LPT")) &&
         upper[3] >= '1' && upper[3] <= '9';
}

}  // namespace

Status CheckRelativePath(const std::string& rel, PathRules rules, const std::string& what) {
  bool windows = rules == PathRules::kWindows;
  auto is_sep = [windows](char c) { return c == '/' || (windows && c == '\\'); };
  if (rel.empty()) return Status::Ok();
  if (is_sep(rel[0])) return Status::Invalid(what + " must be relative to the build directory");
  if (windows && rel.size() >= 2 && std::isalpha(static_cast<unsigned char>(rel[0])) &&
      rel[1] == ':')
    return Status::Invalid(what + " must be relative to the build directory (no drive letter)");
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t end = pos;
    while (end < rel.size() && !is_sep(rel[end])) ++end;
    std::string_view part(rel.data() + pos, end - pos);
    if (part == "..") return Status::Invalid(what + " must stay inside the build directory");
    if (windows && !part.empty() && part != ".") {
      for (char c : part) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 32 || std::string_view("<>:\"|?*").find(c) != std::string_view::npos)
          return Status::Invalid(
              what + ": Windows forbids the character '" +
              (u < 32 ? std::string("\\x") + "0123456789abcdef"[u >> 4] + "0123456789abcdef"[u & 15]
                      : std::string(1, c)) +
              "' in file names");
      }
      if (part.back() == '.' || part.back() == ' ')
        return Status::Invalid(what + ": Windows does not allow a file name ending in '" +
                               std::string(1, part.back()) + "' ('" + std::string(part) + "')");
      if (IsReservedWindowsName(part))
        return Status::Invalid(what + ": '" + std::string(part) +
                               "' is a device name that Windows reserves");
    }
    if (end >= rel.size()) break;
    pos = end + 1;
  }
  return Status::Ok();
}

}  // namespace grove
