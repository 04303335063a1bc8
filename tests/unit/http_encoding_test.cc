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
  ASSERT_TRUE(body->in_parts());
  EXPECT_EQ(body->size(), all.size());
  EXPECT_EQ(body->Joined(Coding::kIdentity), all);
  EXPECT_EQ(Gunzip(body->Joined(Coding::kGzip)), all);
  EXPECT_LT(body->Joined(Coding::kGzip).size(), all.size() / 4);
  // No zstd (it would be a pass over the whole body per change): the identity, which a server
  // sends only to a client that reads neither (ChooseCoding without zstd).
  std::vector<std::string_view> parts;
  EXPECT_EQ(body->Parts(Coding::kZstd, &parts), Coding::kIdentity);
  EXPECT_EQ(ChooseCoding("gzip, deflate, br, zstd", /*zstd_available=*/false), Coding::kGzip);
  EXPECT_EQ(ChooseCoding("zstd", /*zstd_available=*/false), Coding::kIdentity);
  // The parts are the pieces' own bytes, not a copy: a change costs its piece only.
  EXPECT_EQ(body->Parts(Coding::kGzip, &parts), Coding::kGzip);
  EXPECT_EQ(parts[1].data(), pieces[0]->deflate.data());
  body->Parts(Coding::kIdentity, &parts);
  EXPECT_EQ(parts[0].data(), pieces[0]->identity.data());

  // The same pieces in another order and one twice: still a valid answer.
  std::vector<std::shared_ptr<const EncodedPiece>> again = {pieces[3], pieces[2], pieces[3]};
  const std::string expect = texts[3] + texts[2] + texts[3];
  auto other = JoinEncodedPieces(again);
  EXPECT_EQ(Gunzip(other->Joined(Coding::kGzip)), expect);
  EXPECT_EQ(other->Joined(Coding::kIdentity), expect);

  // For a client that reads zstd but no gzip: one zstd frame of the whole (not every client
  // reads past the first).
  auto with_zstd = JoinEncodedPieces(pieces, /*with_zstd=*/true);
  EXPECT_EQ(with_zstd->Parts(Coding::kZstd, &parts), Coding::kZstd);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(Unzstd(std::string(parts[0])), all);
  EXPECT_EQ(ZSTD_findFrameCompressedSize(parts[0].data(), parts[0].size()), parts[0].size());
  EXPECT_EQ(Gunzip(with_zstd->Joined(Coding::kGzip)), all);

  // The body keeps its pieces alive.
  auto kept = JoinEncodedPieces({MakeEncodedPiece(std::string(5000, 'y'))});
  EXPECT_EQ(Gunzip(kept->Joined(Coding::kGzip)), std::string(5000, 'y'));

  // Small joins are kept as they are, as MakeEncodedBody does.
  auto small = JoinEncodedPieces({MakeEncodedPiece("["), MakeEncodedPiece("]")});
  EXPECT_EQ(small->Joined(Coding::kIdentity), "[]");
  EXPECT_EQ(small->Parts(Coding::kGzip, &parts), Coding::kIdentity);
}

}  // namespace
}  // namespace grove::http
