// Content-Encoding of answers: which codings a client accepts (Accept-Encoding), and gzip (zlib)
// or zstd bodies. A list of 4,000 builders is megabytes of JSON and compresses about 20:1, so
// every answer above kMinCompressBytes whose type is text goes out compressed when the client
// says it can read it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace grove::http {

enum class Coding { kIdentity, kGzip, kZstd };

// Smaller answers are sent as they are: compressing them saves less than a packet.
constexpr size_t kMinCompressBytes = 1024;

// The coding to send given the request's Accept-Encoding value: zstd when accepted (smaller and
// cheaper), else gzip, else identity. Codings with q=0 are refused; "*" stands for gzip.
// Without |zstd_available| (a body kept without zstd) the choice is between gzip and identity.
Coding ChooseCoding(std::string_view accept_encoding, bool zstd_available = true);
const char* CodingName(Coding c);  // "gzip", "zstd", "" for identity

// True for the types worth compressing: text/*, JSON, JavaScript, SVG.
bool Compressible(std::string_view content_type);

// |level|: zlib's 1..9 for gzip, zstd's 1..19. Empty on a (memory) failure: send identity then.
std::string Compress(Coding c, std::string_view data, int level);

// An answer body kept ready in every coding (a cached answer): built once off the network
// thread, sent many times without copying.
struct EncodedBody {
  std::string identity;
  std::string gzip;
  std::string zstd;
  // Or a body kept in parts (http/encoded_pieces.h): the body is the concatenation of
  // |identity_parts| (gzip: of |gzip_parts|, empty when too small to compress), views into
  // what |parts_owner| keeps alive, and |zstd| only when made for a client that reads no gzip.
  // Sent part after part: a change to one part costs that part, never a copy of the whole.
  std::vector<std::string_view> identity_parts, gzip_parts;
  std::shared_ptr<const void> parts_owner;

  bool in_parts() const { return parts_owner != nullptr; }
  size_t size() const;  // of the identity
  // The bytes to send for |c| (the identity when the body has no such coding), in order, and
  // the coding they are in.
  Coding Parts(Coding c, std::vector<std::string_view>* out) const;
  // The same bytes joined (tests, small bodies).
  std::string Joined(Coding c) const;
  // A whole (not in parts) body's bytes for |c|, or its identity when it has no such coding.
  const std::string& For(Coding c) const;
};
// Compresses |identity| both ways (at stronger levels than per-request compression, as it is
// done once, except for bodies of hundreds of KiB). Bodies under kMinCompressBytes are kept
// identity-only.
std::shared_ptr<const EncodedBody> MakeEncodedBody(std::string identity);

}  // namespace grove::http
