// Helpers for cutting a byte stream (a command's output) into valid UTF-8 pieces.
#pragma once

#include <cstddef>
#include <string_view>

namespace grove {

// The length of the longest prefix of |s| that does not end inside a multi-byte UTF-8
// sequence: the bytes after it may be completed by the next read. Invalid bytes are not this
// function's concern (JSON encoding replaces them); only a truncated tail is held back.
size_t Utf8CompletePrefix(std::string_view s);

}  // namespace grove
