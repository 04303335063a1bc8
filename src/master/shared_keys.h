// The keys the master signs job tokens and artifact tokens with, shared by every master on the
// store (issue 10): a job whose worker reconnects to another master keeps valid tokens there.
// The first master to start puts its key (from its state/ file, made there if new) in the
// store; every master then signs with the stored one. A lone master keeps the key it had.
#pragma once

#include <string>

#include "core/status.h"
#include "store/store.h"

namespace grove {

// Replaces |key| (raw bytes) with the key stored under |name|, storing |key| first when none is.
Status ShareKey(Store& store, const std::string& name, std::string* key);

}  // namespace grove
