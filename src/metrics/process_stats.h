// This process's CPU time and resident memory, read from /proc/self (Linux).
#pragma once

namespace grove::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double open_fds = 0;
  double start_time_seconds = 0;  // since the epoch
};

// False where /proc is not there (the figures are then left out of /metrics).
bool ReadProcessStats(ProcessStats* out);

}  // namespace grove::metrics
