// A big cached answer compressed in independent pieces (one per group of list items), so that
// when one item changes only its piece is compressed again and the answer is joined from the
// pieces: megabytes of JSON cost a millisecond of copying per change instead of tens of
// compressing. Both codings allow it: a gzip member's deflate stream may be made of raw deflate
// runs each ended by a sync flush (byte-aligned, not final; no run refers back into another),
// closed by an empty final block, with the CRC-32 combined from the pieces'; zstd content may be
// several frames one after the other (RFC 8878 section 3.1), decoded as their concatenation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/encoding.h"

namespace grove::http {

struct EncodedPiece {
  std::string identity;
  std::string deflate;  // raw deflate, ends with a sync flush; empty when identity is
  std::string zstd;     // one frame; empty when identity is
  uint32_t crc = 0;     // CRC-32 of identity
};

// Compresses |identity| both ways. Null on a (memory) failure.
std::shared_ptr<const EncodedPiece> MakeEncodedPiece(std::string identity);

// The pieces' concatenation in every coding, as MakeEncodedBody would give it (but for the
// compressed bytes). Null if the identity is too big for a gzip member's 32-bit size.
std::shared_ptr<const EncodedBody> JoinEncodedPieces(
    const std::vector<std::shared_ptr<const EncodedPiece>>& pieces);

}  // namespace grove::http
