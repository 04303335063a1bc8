#include "core/duration.h"

#include <cctype>
#include <string>

namespace grove {

Status ParseDuration(std::string_view text, std::chrono::seconds* out) {
  auto bad = [&] {
    return Status::Invalid("invalid duration '" + std::string(text) +
                           "' (expected e.g. 90s, 15m, 12h, 2d, 1w, 2y or 1h30m)");
  };
  if (text.empty()) return bad();
  long long total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad();
    long long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000LL) return bad();
      ++i;
    }
    long long unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        case 'y':  // retention periods ("2y"): 365 days
          unit = 365 * 86400;
          break;
        default:
          return bad();
      }
      ++i;
    } else if (total != 0) {
      return bad();  // "1h30" is ambiguous
    }
    total += n * unit;
  }
  *out = std::chrono::seconds(total);
  return Status::Ok();
}

}  // namespace grove
