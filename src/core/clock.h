// Wall-clock time in milliseconds since the Unix epoch: the unit of every stored timestamp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace grove {

inline int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// "2026-11-28T02:21:51.123Z"
std::string FormatIsoMs(int64_t ms);

}  // namespace grove
