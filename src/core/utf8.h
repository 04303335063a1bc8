// Helpers for cutting a byte stream (a command's output) into valid UTF-8 pieces.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace grove {

// The length of the longest prefix of |s| that does not end inside a multi-byte UTF-8
// sequence: the bytes after it may be completed by the next read. Invalid bytes are not this
// function's concern (JSON encoding replaces them); only a truncated tail is held back.
size_t Utf8CompletePrefix(std::string_view s);

// True when |s| is valid UTF-8 (RFC 3629).
bool IsValidUtf8(std::string_view s);

// Replaces every byte of |*s| that is not part of a valid UTF-8 sequence with U+FFFD, as the
// JSON encoding of a log chunk does: a binary log frame (log_frame.h) carries text too. Text
// that is valid already (the common case) is only scanned.
void Utf8Repair(std::string* s);

}  // namespace grove
