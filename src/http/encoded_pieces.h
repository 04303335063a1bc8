// A big cached answer compressed for gzip in independent pieces (one per group of list items),
// so that when one item changes only its piece is deflated again and the answer is joined from
// the pieces: a gzip member's deflate stream may be made of raw deflate runs each ended by a
// sync flush (byte-aligned, not final; no run refers back into another), closed by an empty
// final block, with the CRC-32 combined from the pieces' (pigz writes the same). The answer is
// kept and sent as the pieces themselves (EncodedBody's parts), so that a change costs one
// piece's deflate, not a pass over the whole; zstd, which would be one (content of several
// zstd frames is valid, RFC 8878, but not every client reads past the first), is made only for
// clients that read no gzip.
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
  uint32_t crc = 0;     // CRC-32 of identity
};

// Deflates |identity|. Null on a (memory) failure.
std::shared_ptr<const EncodedPiece> MakeEncodedPiece(std::string identity);

// The pieces' concatenation, in parts (identity and gzip; gzip only from kMinCompressBytes,
// as MakeEncodedBody), sharing the pieces; zstd too (one pass over the whole) |with_zstd|, for
// a client that reads no gzip. Null on a (memory) failure or a body too big for gzip's 32-bit
// size.
std::shared_ptr<const EncodedBody> JoinEncodedPieces(
    std::vector<std::shared_ptr<const EncodedPiece>> pieces, bool with_zstd = false);

}  // namespace grove::http
