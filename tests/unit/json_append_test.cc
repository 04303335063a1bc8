// AppendJson (core/json_append.h) writes exactly Json::dump()'s bytes.
#include "core/json_append.h"

#include <gtest/gtest.h>

#include <random>

namespace grove {
namespace {

std::string Text(const Json& j) {
  std::string out = "x";  // appended to, not replaced
  AppendJson(j, &out);
  return out.substr(1);
}

TEST(JsonAppend, WritesWhatDumpWrites) {
  const std::vector<Json> cases = {
      Json(),
      true,
      false,
      0,
      -1,
      INT64_MIN,
      INT64_MAX,
      Json::parse("18446744073709551615"),
      1.5,
      -0.0,
      1e300,
      0.1,
      "",
      "plain text",
      "quote \" and backslash \\",
      "tab\tnewline\ncontrol \x01 del \x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      Json::object(),
      Json::array(),
      Json::parse(R"({"type":"job.finished","request":7,"attempt":1,"step":0,)"
                  R"("result_json":{"n":7,"list":[1,[2,{"x":null}],-3.25,"\u00e9"]},)"
                  R"("properties":{"a\"b":"c","nested":{"c":[true,false,1.5]}}})"),
  };
  for (const Json& j : cases) EXPECT_EQ(Text(j), j.dump()) << j.dump();
}

TEST(JsonAppend, ThrowsOnNotUtf8AsDumpDoes) {
  const Json bad = {{"k", std::string("\xff")}};
  std::string out;
  EXPECT_THROW(AppendJson(bad, &out), Json::type_error);
  EXPECT_THROW(bad.dump(), Json::type_error);
}

TEST(JsonAppend, AgreesWithDumpOnRandomValues) {
  std::mt19937 rng(14);
  const std::string alphabet = std::string("az09 _-\"\\/\t\n\x01\x7f") + "\xc3\xa9";
  auto str = [&] {
    std::string s;
    for (int i = 0, n = static_cast<int>(rng() % 12); i < n; ++i) {
      const size_t at = rng() % (alphabet.size() - 1);
      s += alphabet[at];
      if (at == alphabet.size() - 2) s += alphabet.back();  // é whole
    }
    return s;
  };
  std::function<Json(int)> value = [&](int depth) -> Json {
    switch (rng() % (depth > 3 ? 6 : 8)) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<int64_t>(rng()) - static_cast<int64_t>(rng());
      case 3:
        return static_cast<double>(static_cast<int>(rng() % 20000) - 10000) / 7.0;
      case 4:
        return static_cast<uint64_t>(rng()) << 33;
      case 5:
        return str();
      case 6: {
        Json o = Json::object();
        for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i) o[str()] = value(depth + 1);
        return o;
      }
      default: {
        Json a = Json::array();
        for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i) a.push_back(value(depth + 1));
        return a;
      }
    }
  };
  for (int i = 0; i < 3000; ++i) {
    const Json j = value(0);
    ASSERT_EQ(Text(j), j.dump()) << j.dump();
  }
}

}  // namespace
}  // namespace grove
