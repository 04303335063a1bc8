// Which builds a notifier tells about: builders (names or globs), tags, and mode (docs/config.md).
#pragma once

#include <optional>
#include <string>

#include "config/config.h"
#include "core/result.h"

namespace grove::notify {

// Whether |common|'s builders and tags cover builder |name| (|bc| may be null: a builder no
// longer in grove.lua is covered only by a notifier without builders or tags).
bool CoversBuilder(const NotifierCommon& common, const std::string& name, const BuilderConfig* bc);

// Whether a build that ended with |result| is reported under |common|'s mode. |previous| is the
// result of the builder's previous finished build, when there is one.
bool WantsResult(const NotifierCommon& common, Result result, std::optional<Result> previous);

// Whether WantsResult needs |previous| ("problem" or "change" is in the mode).
bool NeedsPrevious(const NotifierCommon& common);

}  // namespace grove::notify
