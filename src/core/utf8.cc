#include "core/utf8.h"

#include <cstdint>
#include <cstring>

namespace grove {

size_t Utf8CompletePrefix(std::string_view s) {
  // Look at most 3 bytes back for the lead byte of the last sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

namespace {

// The length of the valid UTF-8 sequence at |s[i]|, or 0 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t ValidSequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + need > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < need; ++k)
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  return need;
}

// The offset of the first byte that is not valid UTF-8 (s.size() when all is).
size_t FirstInvalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // ASCII eight bytes at a time: most of a build log.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const size_t n = ValidSequence(s, i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  return FirstInvalid(s) == s.size();
}

void Utf8Repair(std::string* s) {
  size_t bad = FirstInvalid(*s);
  if (bad == s->size()) return;
  std::string out(*s, 0, bad);
  std::string_view in(*s);
  size_t i = bad;
  while (i < in.size()) {
    const size_t n = ValidSequence(in, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
  s->swap(out);
}

}  // namespace grove
