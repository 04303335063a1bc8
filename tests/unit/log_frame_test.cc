// Binary log frames (core/log_frame.h): what a worker encodes the master decodes to the same
// chunk, and whatever else arrives in a binary message is a status naming the problem, never an
// exception or a crash.
#include "core/log_frame.h"

#include <gtest/gtest.h>

#include "core/utf8.h"

namespace grove {
namespace {

Json LogEvent(std::string data) {
  return {{"type", "log"}, {"id", 7},  {"request", 12},          {"attempt", 1},
          {"step", 2},     {"seq", 3}, {"data", std::move(data)}};
}

std::string Encode(const Json& ev) {
  std::string frame;
  Status st = EncodeLogFrame(ev, &frame);
  EXPECT_TRUE(st.ok()) << st.message();
  return frame;
}

std::string Zdata(const Json& ev) {
  const auto& b = ev["zdata"].get_binary();
  return std::string(b.begin(), b.end());
}

// The header's length field and the header, for hand-made frames.
std::string Frame(const std::string& header, const std::string& payload) {
  std::string f(kLogFrameMagic);
  const uint32_t n = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return f + header + payload;
}

TEST(LogFrame, RoundTripsAChunkCompressed) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + " of the build log\n";
  const std::string frame = Encode(LogEvent(text));
  EXPECT_TRUE(IsLogFrame(frame));
  EXPECT_LT(frame.size(), text.size() / 4);  // compressed, not just wrapped

  Json ev;
  Status st = DecodeLogFrame(frame, &ev);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(ev["type"], "log");
  EXPECT_EQ(ev["id"], 7);
  EXPECT_EQ(ev["request"], 12);
  EXPECT_EQ(ev["attempt"], 1);
  EXPECT_EQ(ev["step"], 2);
  EXPECT_EQ(ev["seq"], 3);
  EXPECT_FALSE(ev.contains("data"));
  EXPECT_EQ(ev["raw_size"], static_cast<int64_t>(text.size()));
  EXPECT_EQ(ev["lines"], 2000);
  std::string back;
  ASSERT_TRUE(DecompressLogData(Zdata(ev), ev["raw_size"].get<int64_t>(), &back).ok());
  EXPECT_EQ(back, text);

  // The worker's way back to JSON, for a master that takes no frames.
  Json json;
  ASSERT_TRUE(LogFrameToJsonEvent(frame, &json).ok());
  EXPECT_EQ(json["data"], text);
  EXPECT_EQ(json["seq"], 3);
}

TEST(LogFrame, AnEmptyChunkHasNoPayload) {
  const std::string frame = Encode(LogEvent(""));
  Json ev;
  ASSERT_TRUE(DecodeLogFrame(frame, &ev).ok());
  EXPECT_EQ(ev["raw_size"], 0);
  EXPECT_EQ(ev["lines"], 0);
  EXPECT_TRUE(Zdata(ev).empty());
}

TEST(LogFrame, InvalidUtf8IsReplacedAsTheJsonEncodingDoes) {
  const std::string frame = Encode(LogEvent("ok \xff\xfe then \xc3\xa9\n"));
  Json json;
  ASSERT_TRUE(LogFrameToJsonEvent(frame, &json).ok());
  EXPECT_EQ(json["data"], "ok \xEF\xBF\xBD\xEF\xBF\xBD then \xc3\xa9\n");
  EXPECT_TRUE(IsValidUtf8(json["data"].get<std::string>()));
}

TEST(LogFrame, TruncatedOrGarbledFramesAreRefusedWithoutAnEvent) {
  const std::string frame = Encode(LogEvent("hello\n"));
  for (size_t n : {0, 3, 4, 7, 8, 12}) {
    Json ev;
    Status st = DecodeLogFrame(frame.substr(0, n), &ev);
    EXPECT_TRUE(st.IsInvalid()) << n;
    EXPECT_TRUE(ev.is_null()) << n;  // no id to reject it by: the connection closes
  }
  Json ev;
  EXPECT_EQ(DecodeLogFrame(Frame("{\"type\": \"log\"", ""), &ev).message(),
            "malformed log frame: the header is not a JSON object");
  EXPECT_TRUE(DecodeLogFrame(Frame("[1]", ""), &ev).IsInvalid());
  std::string huge = Frame("{}", "");
  huge[4] = huge[5] = huge[6] = huge[7] = '\xff';  // a header of 4 GiB
  EXPECT_TRUE(DecodeLogFrame(huge, &ev).IsInvalid());
  EXPECT_FALSE(DecodeLogFrame("GLF0 not a frame", &ev).ok());
}

TEST(LogFrame, AHeaderWithAWrongFieldIsRefusedWithItsId) {
  Json ev;
  Status st = DecodeLogFrame(
      Frame(R"({"type":"log","id":9,"request":1,"attempt":1,"step":"two","seq":0})", ""), &ev);
  EXPECT_EQ(st.message(), "malformed event: 'step' must be an integer, not a string");
  EXPECT_EQ(ev["id"], 9);  // rejected in order: acknowledged, not applied
  st = DecodeLogFrame(Frame(R"({"type":"log","id":9,"request":1,"attempt":1,"seq":0})", ""), &ev);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("'step'"), std::string::npos) << st.message();
  st = DecodeLogFrame(
      Frame(R"({"type":"step.finished","id":9,"request":1,"attempt":1,"step":0,"seq":0})", ""),
      &ev);
  EXPECT_NE(st.message().find("'type' must be \"log\""), std::string::npos) << st.message();
  st = DecodeLogFrame(
      Frame(R"({"type":"log","id":9,"request":1,"attempt":1,"step":-1,"seq":0})", ""), &ev);
  EXPECT_TRUE(st.IsInvalid());
}

TEST(LogFrame, BadCompressionIsRefused) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "some output " + std::to_string(i * 7919) + "\n";
  const std::string frame = Encode(LogEvent(text));
  const size_t header_end = frame.find("}") + 1;
  Json ev;
  // Not zstd at all.
  Status st = DecodeLogFrame(frame.substr(0, header_end) + "plain text, not zstd", &ev);
  EXPECT_EQ(st.message(), "malformed log frame: the payload is not a zstd frame");
  EXPECT_EQ(ev["id"], 7);
  // Cut short.
  st = DecodeLogFrame(frame.substr(0, frame.size() - 5), &ev);
  EXPECT_TRUE(st.IsInvalid()) << st.message();
  // Trailing bytes after the frame.
  st = DecodeLogFrame(frame + "xx", &ev);
  EXPECT_TRUE(st.IsInvalid()) << st.message();
  // Corrupt blocks: each flipped byte after the zstd frame header must be refused or decode
  // to the right size (zstd has no checksum at level 1 by default): never a crash.
  for (size_t i = header_end + 6; i < frame.size(); i += 3) {
    std::string bad = frame;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    Json out;
    Status s = DecodeLogFrame(bad, &out);
    if (s.ok()) {
      EXPECT_EQ(out["raw_size"], static_cast<int64_t>(text.size()));
    }
  }
}

TEST(LogFrame, EncodingNeedsAStringData) {
  std::string frame;
  Json ev = LogEvent("x");
  ev["data"] = 5;
  EXPECT_TRUE(EncodeLogFrame(ev, &frame).IsInvalid());
  EXPECT_TRUE(EncodeLogFrame(Json::array(), &frame).IsInvalid());
}

TEST(Utf8, RepairKeepsValidTextAndReplacesEachBadByte) {
  std::string s = "plain ascii, \xe2\x82\xac and \xf0\x9f\x98\x80";
  EXPECT_TRUE(IsValidUtf8(s));
  std::string copy = s;
  Utf8Repair(&copy);
  EXPECT_EQ(copy, s);
  for (std::string bad : {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad));
    Utf8Repair(&bad);
    EXPECT_TRUE(IsValidUtf8(bad));
  }
  std::string cut = "ab\xe2\x82";
  Utf8Repair(&cut);
  EXPECT_EQ(cut, "ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace grove
