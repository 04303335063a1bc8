// The master's files are private to the user that runs it: the store holds logs, properties
// and changes, the state directory holds the token keys and the git mirrors, the secrets
// directory and the users file hold credentials.
#pragma once

#include "config/config.h"
#include "core/status.h"

namespace grove {

// Sets the umask to 077, so that every file and directory the master creates from now on (the
// store and its -wal/-shm, keys, mirrors, artifacts, the pid file) is its user's alone; then
// takes group and other permissions away from what already exists and is too open (the state
// directory and its top-level entries, the SQLite store's files wherever they are, the secrets
// directory and its files, the users file), logging each change. Deeper entries need no
// change: their directory no longer lets anyone else in. Never fails the start: a file it
// cannot change is logged.
void MakeMasterFilesPrivate(const Config& config);

}  // namespace grove
