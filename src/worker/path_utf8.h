// Paths as UTF-8 strings. The worker carries paths as std::string in UTF-8 (they come from and
// go into JSON); on Windows std::filesystem::path converts from and to char with the C runtime's
// code page, which is not UTF-8 and throws on what it cannot map. Every conversion between a
// path string and std::filesystem::path in code shared with the Windows worker goes through
// these two (on Linux they change nothing).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace grove {

inline std::filesystem::path Utf8Path(std::string_view utf8) {
  return std::filesystem::path(
      std::u8string_view(reinterpret_cast<const char8_t*>(utf8.data()), utf8.size()));
}

inline std::string PathUtf8(const std::filesystem::path& p) {
  std::u8string u = p.u8string();
  return std::string(u.begin(), u.end());
}

}  // namespace grove
