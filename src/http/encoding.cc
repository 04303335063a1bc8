#include "http/encoding.h"

#include <zlib.h>
#include <zstd.h>

#include <cctype>
#include <cstdlib>

namespace grove::http {

namespace {

constexpr size_t kBigBody = 256 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// The q value of one Accept-Encoding element's parameters ("q=0.5"); 1 when absent, 0 when
// malformed (a client that cannot write its header gets the plain answer).
double QValue(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() < 2 || std::tolower(static_cast<unsigned char>(p[0])) != 'q' || p[1] != '=')
      continue;
    std::string v(Trim(p.substr(2)));
    if (v.empty() || v.size() > 5) return 0;
    char* end = nullptr;
    double q = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !(q >= 0 && q <= 1)) return 0;
    return q;
  }
  return 1;
}

std::string Gzip(std::string_view data, int level) {
  z_stream zs{};
  // 15 window bits + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return {};
  out.resize(n);
  return out;
}

std::string Zstd(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

}  // namespace

Coding ChooseCoding(std::string_view accept, bool zstd_available) {
  double gzip = 0, zstd = 0, star = -1;
  bool gzip_named = false;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view name = Trim(item.substr(0, semi));
    double q = semi == std::string_view::npos ? 1 : QValue(item.substr(semi + 1));
    if (EqualsIgnoreCase(name, "zstd")) {
      zstd = q;
    } else if (EqualsIgnoreCase(name, "gzip") || EqualsIgnoreCase(name, "x-gzip")) {
      gzip = q;
      gzip_named = true;
    } else if (name == "*") {
      star = q;
    }
  }
  if (!gzip_named && star > 0) gzip = star;
  if (!zstd_available) zstd = 0;
  if (zstd > 0 && zstd >= gzip) return Coding::kZstd;
  if (gzip > 0) return Coding::kGzip;
  if (zstd > 0) return Coding::kZstd;
  return Coding::kIdentity;
}

const char* CodingName(Coding c) {
  switch (c) {
    case Coding::kGzip:
      return "gzip";
    case Coding::kZstd:
      return "zstd";
    case Coding::kIdentity:
      break;
  }
  return "";
}

bool Compressible(std::string_view type) {
  auto starts = [&](std::string_view p) {
    return type.size() >= p.size() && EqualsIgnoreCase(type.substr(0, p.size()), p);
  };
  return (starts("text/") && !starts("text/event-stream")) || starts("application/json") ||
         starts("application/javascript") || starts("image/svg+xml");
}

std::string Compress(Coding c, std::string_view data, int level) {
  switch (c) {
    case Coding::kGzip:
      return Gzip(data, level);
    case Coding::kZstd:
      return Zstd(data, level);
    case Coding::kIdentity:
      break;
  }
  return {};
}

size_t EncodedBody::size() const {
  if (!in_parts()) return identity.size();
  size_t n = 0;
  for (std::string_view p : identity_parts) n += p.size();
  return n;
}

Coding EncodedBody::Parts(Coding c, std::vector<std::string_view>* out) const {
  out->clear();
  if (in_parts()) {
    if (c == Coding::kZstd && !zstd.empty()) {
      out->push_back(zstd);
      return Coding::kZstd;
    }
    const bool gz = c == Coding::kGzip && !gzip_parts.empty();
    const auto& parts = gz ? gzip_parts : identity_parts;
    for (std::string_view p : parts)
      if (!p.empty()) out->push_back(p);
    return gz ? Coding::kGzip : Coding::kIdentity;
  }
  const std::string& bytes = For(c);
  out->push_back(bytes);
  if (&bytes == &gzip) return Coding::kGzip;
  if (&bytes == &zstd) return Coding::kZstd;
  return Coding::kIdentity;
}

std::string EncodedBody::Joined(Coding c) const {
  std::vector<std::string_view> parts;
  Parts(c, &parts);
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

const std::string& EncodedBody::For(Coding c) const {
  if (c == Coding::kGzip && !gzip.empty()) return gzip;
  if (c == Coding::kZstd && !zstd.empty()) return zstd;
  return identity;
}

std::shared_ptr<const EncodedBody> MakeEncodedBody(std::string identity) {
  auto b = std::make_shared<EncodedBody>();
  b->identity = std::move(identity);
  // Big bodies (the whole builders list: megabytes) at fast levels, so that the first reader
  // after a change waits tens of milliseconds, not hundreds; the rest at the default levels.
  const bool big = b->identity.size() >= kBigBody;
  if (b->identity.size() >= kMinCompressBytes) {
    b->gzip = Gzip(b->identity, big ? 1 : 6);
    b->zstd = Zstd(b->identity, big ? 1 : 6);
  }
  return b;
}

}  // namespace grove::http
