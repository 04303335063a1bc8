// Accept-Encoding negotiation and the compressed bodies (src/http/encoding.h).
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <string>

#include "http/encoded_pieces.h"
#include "http/encoding.h"

namespace grove::http {
namespace {

std::string Gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string Unzstd(const std::string& in) {
  std::string out(1 << 20, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

TEST(HttpEncoding, ChoosesWhatTheClientAccepts) {
  EXPECT_EQ(ChooseCoding(""), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("identity"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("br"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("GZIP"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("x-gzip"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("gzip, deflate, br"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("gzip, deflate, br, zstd"), Coding::kZstd);
  EXPECT_EQ(ChooseCoding(" zstd ; q=0.5 , gzip;q=0.9"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("zstd;q=0, gzip"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("gzip;q=0"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;Q=0.000"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("*"), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("*;q=0"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;q=0, *"), Coding::kIdentity);  // named beats the wildcard
}

TEST(HttpEncoding, MalformedHeadersGetThePlainAnswer) {
  EXPECT_EQ(ChooseCoding("gzip;q=zz"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;q=2"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;q=-1"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;q=0.5x"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip;q=nan"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding(",,;;,=,"), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding(std::string(10000, ',') + "gzip"), Coding::kGzip);
}

TEST(HttpEncoding, CompressibleTypes) {
  EXPECT_TRUE(Compressible("application/json"));
  EXPECT_TRUE(Compressible("text/plain; charset=utf-8"));
  EXPECT_TRUE(Compressible("text/javascript; charset=utf-8"));
  EXPECT_TRUE(Compressible("image/svg+xml"));
  EXPECT_FALSE(Compressible("text/event-stream"));
  EXPECT_FALSE(Compressible("application/octet-stream"));
  EXPECT_FALSE(Compressible("image/png"));
}

TEST(HttpEncoding, BodiesRoundTrip) {
  std::string json = "[";
  for (int i = 0; i < 2000; ++i) json += R"({"name":"builder-)" + std::to_string(i) + R"("},)";
  json += "0]";
  EXPECT_EQ(Gunzip(Compress(Coding::kGzip, json, 1)), json);
  EXPECT_EQ(Unzstd(Compress(Coding::kZstd, json, 3)), json);
  auto body = MakeEncodedBody(json);
  EXPECT_EQ(body->identity, json);
  EXPECT_EQ(Gunzip(body->For(Coding::kGzip)), json);
  EXPECT_EQ(Unzstd(body->For(Coding::kZstd)), json);
  EXPECT_LT(body->gzip.size(), json.size() / 4);
  // Small bodies are kept as they are, and For() then gives the identity.
  auto small = MakeEncodedBody("{}");
  EXPECT_EQ(&small->For(Coding::kGzip), &small->identity);
  EXPECT_EQ(&small->For(Coding::kZstd), &small->identity);
}

// A body joined from separately deflated pieces decodes, in both codings, to the pieces'
// concatenation (gzip's CRC-32 and size checked by zlib), and a piece serves in any join.
TEST(HttpEncoding, PiecesJoinIntoOneBodyInEveryCoding) {
  std::vector<std::string> texts = {"[", "", std::string(3000, 'x') + ",", "{\"a\":1}"};
  for (int i = 0; i < 500; ++i) texts[3] += R"(,{"name":"builder-)" + std::to_string(i) + R"("})";
  texts.push_back("]");
  std::vector<std::shared_ptr<const EncodedPiece>> pieces;
  std::string all;
  for (const auto& t : texts) {
    pieces.push_back(MakeEncodedPiece(t));
    ASSERT_TRUE(pieces.back());
    all += t;
  }
  auto body = JoinEncodedPieces(pieces);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->identity, all);
  EXPECT_EQ(Gunzip(body->For(Coding::kGzip)), all);
  EXPECT_EQ(Unzstd(body->For(Coding::kZstd)), all);
  // One zstd frame: not every client reads past the first.
  EXPECT_EQ(ZSTD_findFrameCompressedSize(body->zstd.data(), body->zstd.size()), body->zstd.size());
  EXPECT_LT(body->gzip.size(), all.size() / 4);

  // The same pieces in another order and one twice: still a valid answer.
  std::vector<std::shared_ptr<const EncodedPiece>> again = {pieces[3], pieces[2], pieces[3]};
  const std::string expect = texts[3] + texts[2] + texts[3];
  auto other = JoinEncodedPieces(again);
  EXPECT_EQ(Gunzip(other->For(Coding::kGzip)), expect);
  EXPECT_EQ(Unzstd(other->For(Coding::kZstd)), expect);

  // Without zstd (the client does not read it): gzip only.
  auto gzip_only = JoinEncodedPieces(pieces, /*with_zstd=*/false);
  EXPECT_EQ(Gunzip(gzip_only->For(Coding::kGzip)), all);
  EXPECT_EQ(&gzip_only->For(Coding::kZstd), &gzip_only->identity);

  // Small joins are kept as they are, as MakeEncodedBody does.
  auto small = JoinEncodedPieces({MakeEncodedPiece("["), MakeEncodedPiece("]")});
  EXPECT_EQ(small->identity, "[]");
  EXPECT_EQ(&small->For(Coding::kGzip), &small->identity);
}

}  // namespace
}  // namespace grove::http
