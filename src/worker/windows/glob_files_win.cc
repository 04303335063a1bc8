// GlobFiles (glob_files.h) on Windows, where there is no glob(3): the pattern is split at '/'
// and '\', and each part with a wildcard (*, ?, [...]) is matched against a directory's
// entries, without regard to case as Windows names go. As with glob(3), a wildcard does not
// match a leading '.', and "**" is not special.
#include <algorithm>
#include <cwctype>
#include <filesystem>

#include "worker/glob_files.h"
#include "worker/path_utf8.h"

namespace grove {

namespace {

namespace fs = std::filesystem;

bool HasWildcard(const std::wstring& s) {
  return s.find_first_of(L"*?[") != std::wstring::npos;
}

wchar_t Fold(wchar_t c) {
  return static_cast<wchar_t>(std::towlower(c));
}

// fnmatch-like matching of one name against one pattern part.
bool Match(const wchar_t* p, const wchar_t* n) {
  while (*p) {
    if (*p == L'*') {
      while (*p == L'*') ++p;
      if (!*p) return true;
      for (; *n; ++n)
        if (Match(p, n)) return true;
      return false;
    }
    if (!*n) return false;
    if (*p == L'?') {
      ++p, ++n;
      continue;
    }
    if (*p == L'[') {
      const wchar_t* q = p + 1;
      bool negate = *q == L'!' || *q == L'^';
      if (negate) ++q;
      bool found = false;
      const wchar_t* start = q;
      while (*q && (*q != L']' || q == start)) {
        if (q[1] == L'-' && q[2] && q[2] != L']') {
          if (Fold(*n) >= Fold(q[0]) && Fold(*n) <= Fold(q[2])) found = true;
          q += 3;
        } else {
          if (Fold(*q) == Fold(*n)) found = true;
          ++q;
        }
      }
      if (*q != L']') {  // no closing bracket: a literal '['
        if (*n != L'[') return false;
        ++p, ++n;
        continue;
      }
      if (found == negate) return false;
      p = q + 1, ++n;
      continue;
    }
    if (Fold(*p) != Fold(*n)) return false;
    ++p, ++n;
  }
  return !*n;
}

}  // namespace

std::vector<std::string> GlobFiles(const std::string& dir, const std::string& pattern) {
  fs::path full = Utf8Path(pattern);
  if (!full.is_absolute()) full = Utf8Path(dir) / full;
  full.make_preferred();
  std::vector<fs::path> current = {full.root_path()};
  std::error_code ec;
  for (const fs::path& part : full.relative_path()) {
    std::wstring p = part.native();
    if (p.empty()) continue;
    std::vector<fs::path> next;
    for (const fs::path& base : current) {
      if (!HasWildcard(p)) {
        next.push_back(base / part);
        continue;
      }
      for (fs::directory_iterator it(base.empty() ? fs::path(L".") : base, ec), end;
           !ec && it != end; it.increment(ec)) {
        std::wstring name = it->path().filename().native();
        if (name.starts_with(L".") && !p.starts_with(L".")) continue;
        if (Match(p.c_str(), name.c_str())) next.push_back(base / name);
      }
      ec.clear();
    }
    current = std::move(next);
    if (current.empty()) break;
  }
  std::vector<std::string> out;
  for (const fs::path& f : current)
    if (fs::is_regular_file(f, ec)) out.push_back(PathUtf8(f));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace grove
