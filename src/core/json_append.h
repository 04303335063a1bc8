// A JSON value's text appended to a string: the same bytes as Json::dump() (compact, strict
// UTF-8), written without nlohmann's serializer where that is plain — ASCII strings with nothing
// to escape, integers, literals — which checks and escapes text a byte at a time through a UTF-8
// decoder and was the largest part of writing a worker's events. Anything else (strings to
// escape or not ASCII, floating point numbers) is written by nlohmann, so the text never
// differs; like dump(), it throws Json::type_error on a string that is not UTF-8.
#pragma once

#include <string>

#include "core/protocol.h"

namespace grove {

void AppendJson(const Json& value, std::string* out);

}  // namespace grove
