#include "http/encoded_pieces.h"

#include <zlib.h>

#include <limits>

namespace grove::http {
namespace {

// A piece is deflated once and sent in every answer until one of its items changes: zlib's
// default level (a fifth smaller than level 1 for a builders list, at 2.5 times the CPU, which
// only a full rebuild pays in one go).
constexpr int kDeflateLevel = 6;
// zstd (only for clients that read no gzip) compresses the whole joined body per change: its
// fastest level, as MakeEncodedBody's for big bodies.
constexpr int kZstdLevel = 1;

// gzip member header: magic, deflate, no flags, no time, no extra flags, unknown OS.
constexpr char kGzipHeader[] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\xff'};
// A final, empty block with fixed Huffman codes (BFINAL 1, BTYPE 01, end-of-block): what
// closes a stream whose runs all ended with a sync flush.
constexpr char kFinalEmptyBlock[] = {3, 0};

bool RawDeflate(std::string_view data, std::string* out) {
  z_stream zs{};
  // Negative window bits: raw deflate, no zlib or gzip wrapper (the join writes the gzip one).
  if (deflateInit2(&zs, kDeflateLevel, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  // deflateBound is for Z_FINISH; a sync flush adds an empty stored block (5 bytes) at most.
  out->resize(deflateBound(&zs, data.size()) + 16);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out->data());
  zs.avail_out = static_cast<uInt>(out->size());
  const int rc = deflate(&zs, Z_SYNC_FLUSH);
  const bool ok = rc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0;
  out->resize(ok ? zs.total_out : 0);
  deflateEnd(&zs);
  return ok;
}

void PutLe32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::shared_ptr<const EncodedPiece> MakeEncodedPiece(std::string identity) {
  if (identity.size() > std::numeric_limits<uInt>::max() / 2) return nullptr;
  auto p = std::make_shared<EncodedPiece>();
  p->identity = std::move(identity);
  if (p->identity.empty()) return p;
  p->crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(p->identity.data()),
                                       static_cast<uInt>(p->identity.size())));
  if (!RawDeflate(p->identity, &p->deflate)) return nullptr;
  return p;
}

std::shared_ptr<const EncodedBody> JoinEncodedPieces(
    std::vector<std::shared_ptr<const EncodedPiece>> pieces, bool with_zstd) {
  // What the parts point into: the pieces and the gzip member's header and trailer.
  struct Owner {
    std::vector<std::shared_ptr<const EncodedPiece>> pieces;
    std::string head, tail;
  };
  auto owner = std::make_shared<Owner>();
  owner->pieces = std::move(pieces);
  size_t plain = 0;
  for (const auto& p : owner->pieces) plain += p->identity.size();
  if (plain > std::numeric_limits<uint32_t>::max()) return nullptr;
  auto b = std::make_shared<EncodedBody>();
  b->identity_parts.reserve(owner->pieces.size());
  for (const auto& p : owner->pieces) b->identity_parts.push_back(p->identity);
  if (plain >= kMinCompressBytes) {  // as MakeEncodedBody: identity only below
    uLong crc = crc32(0, nullptr, 0);
    owner->head.assign(kGzipHeader, sizeof(kGzipHeader));
    b->gzip_parts.reserve(owner->pieces.size() + 2);
    b->gzip_parts.push_back(owner->head);
    for (const auto& p : owner->pieces) {
      if (p->identity.empty()) continue;
      b->gzip_parts.push_back(p->deflate);
      crc = crc32_combine(crc, p->crc, static_cast<z_off_t>(p->identity.size()));
    }
    owner->tail.assign(kFinalEmptyBlock, sizeof(kFinalEmptyBlock));
    PutLe32(static_cast<uint32_t>(crc), &owner->tail);
    PutLe32(static_cast<uint32_t>(plain), &owner->tail);
    b->gzip_parts.push_back(owner->tail);
    if (with_zstd) {
      std::string joined;
      joined.reserve(plain);
      for (const auto& p : owner->pieces) joined += p->identity;
      b->zstd = Compress(Coding::kZstd, joined, kZstdLevel);
      if (b->zstd.empty()) return nullptr;
    }
  }
  b->parts_owner = std::move(owner);
  return b;
}

}  // namespace grove::http
