#include "metrics/process_stats.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace grove::metrics {

bool ReadProcessStats(ProcessStats* out) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the
  // last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields 3.. : state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24).
  double utime = 0, stime = 0, starttime = 0, rss_pages = 0;
  for (int i = 3; i <= 24 && rest >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
    if (i == 22) starttime = std::strtod(field.c_str(), nullptr);
    if (i == 24) rss_pages = std::strtod(field.c_str(), nullptr);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (ticks <= 0 || page <= 0) return false;
  out->cpu_seconds = (utime + stime) / ticks;
  out->resident_bytes = rss_pages * page;
  // Boot time + start ticks: the start time since the epoch, as Prometheus' client libraries
  // export it.
  std::ifstream boot_stat("/proc/stat");
  double btime = 0;
  while (std::getline(boot_stat, line))
    if (line.rfind("btime ", 0) == 0) btime = std::strtod(line.c_str() + 6, nullptr);
  out->start_time_seconds = btime + starttime / ticks;
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  out->open_fds = fds;
  return true;
}

}  // namespace grove::metrics
