// The JSON shapes of stored records as the API shows them.
#pragma once

#include "store/store.h"

namespace grove {

Json BuildJson(const BuildRecord& b);
// A build in a list (home page, grid): no properties, to keep thousands of them small.
Json BuildSummaryJson(const BuildRecord& b);
Json StepJson(const StepRecord& s);
Json RequestJson(const RequestRecord& r);

}  // namespace grove
