// CopyStore: moves a master's whole history from one store to another (SQLite → PostgreSQL and
// back): requests, builds, steps, compressed log chunks, changes, artifacts' metadata, test
// results, scheduler and poller state, workers. (Web users live in the users file, not in the
// store.) The master must be stopped meanwhile.
//
// The target must be empty (it is created and migrated if new). Everything is written in one
// transaction, which is committed only when every table of the target has the source's row count
// and checksum; otherwise nothing is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace grove {

struct StoreEndpoint {
  std::string url;       // sqlite:PATH or postgresql://...
  std::string password;  // optional, overrides the URL's
};

struct TableCopy {
  std::string table;
  int64_t rows = 0;
  std::string checksum;  // hex; the same on both sides
};

// |base_dir| resolves relative sqlite: paths. Invalid for a non-empty target or the same store
// twice; Unavailable when a database cannot be reached; IoError when the copy does not check.
Status CopyStore(const StoreEndpoint& from, const StoreEndpoint& to, const std::string& base_dir,
                 std::vector<TableCopy>* report);

// The tables CopyStore copies, in the order it copies them (every table of the schema but
// schema_version).
std::vector<std::string> CopiedTables();

}  // namespace grove
