// examples/quickstart, embedded so that `grove init` works from the binary alone.
#pragma once

#include "core/embedded_file.h"

namespace grove {

extern const EmbeddedFile kQuickstartFiles[];
extern const size_t kQuickstartFilesCount;

}  // namespace grove
