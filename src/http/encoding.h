// Content-Encoding of answers: which codings a client accepts (Accept-Encoding), and gzip (zlib)
// or zstd bodies. A list of 4,000 builders is megabytes of JSON and compresses about 20:1, so
// every answer above kMinCompressBytes whose type is text goes out compressed when the client
// says it can read it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace grove::http {

enum class Coding { kIdentity, kGzip, kZstd };

// Smaller answers are sent as they are: compressing them saves less than a packet.
constexpr size_t kMinCompressBytes = 1024;

// The coding to send given the request's Accept-Encoding value: zstd when accepted (smaller and
// cheaper), else gzip, else identity. Codings with q=0 are refused; "*" stands for gzip.
Coding ChooseCoding(std::string_view accept_encoding);
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
  const std::string& For(Coding c) const;
};
// Compresses |identity| both ways (at stronger levels than per-request compression, as it is
// done once, except for bodies of hundreds of KiB). Bodies under kMinCompressBytes are kept
// identity-only.
std::shared_ptr<const EncodedBody> MakeEncodedBody(std::string identity);

}  // namespace grove::http
