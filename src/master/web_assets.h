// The web UI's files, embedded at build time from web/.
#pragma once

#include "core/embedded_file.h"

namespace grove {

extern const EmbeddedFile kWebAssets[];
extern const size_t kWebAssetsCount;

}  // namespace grove
