// Interpolation, secret masking and JUnit parsing (src/core/interpolate.h, secret_mask.h,
// junit.h).
#include <gtest/gtest.h>

#include "core/interpolate.h"
#include "core/junit.h"
#include "core/secret_mask.h"

namespace grove {
namespace {

const std::map<std::string, std::string> kSecrets = {{"wiki", "s3cr3t"}};

std::string Interp(const std::string& in, const Json& props) {
  std::string out;
  Status st = Interpolate(in, props, kSecrets, &out);
  return st.ok() ? out : "ERROR: " + st.message();
}

TEST(Interpolate, PropertiesDefaultsSecretsAndEscapes) {
  Json props = {{"branch", "main"}, {"buildnumber", 42}, {"empty", ""}, {"flag", true}};
  EXPECT_EQ(Interp("releases/${prop:buildnumber}/", props), "releases/42/");
  EXPECT_EQ(Interp("${prop:branch}-${prop:flag}", props), "main-true");
  EXPECT_EQ(Interp("${prop:missing:-dev}", props), "dev");
  EXPECT_EQ(Interp("${prop:empty:-x}", props), "x");
  EXPECT_EQ(Interp("${prop:missing:-}", props), "");
  EXPECT_EQ(Interp("${prop:branch:-x}", props), "main");
  EXPECT_EQ(Interp("token=${secret:wiki}", props), "token=s3cr3t");
  EXPECT_EQ(Interp("cost $5 and $${prop:branch}", props), "cost $5 and ${prop:branch}");
  EXPECT_EQ(Interp("no dollars", props), "no dollars");
}

TEST(Interpolate, ErrorsNameTheProblem) {
  Json props = Json::object();
  EXPECT_EQ(Interp("${prop:nope}", props), "ERROR: property 'nope' is not set");
  EXPECT_EQ(Interp("${secret:other}", props), "ERROR: secret 'other' is not available");
  EXPECT_NE(Interp("${prop:x", props).find("unterminated"), std::string::npos);
  EXPECT_NE(Interp("${env:HOME}", props).find("unknown interpolation"), std::string::npos);
  EXPECT_NE(Interp("${HOME}", props).find("needs a kind"), std::string::npos);
}

TEST(Interpolate, JsonAndSecretNames) {
  Json in = {{"url", "https://x/${prop:n}"}, {"list", {"${prop:n}", 3}}};
  Json out;
  ASSERT_TRUE(InterpolateJson(in, {{"n", "7"}}, kSecrets, &out).ok());
  EXPECT_EQ(out["url"], "https://x/7");
  EXPECT_EQ(out["list"][0], "7");
  EXPECT_EQ(out["list"][1], 3);
  std::set<std::string> names;
  CollectSecretNamesInJson(Json{{"a", "${secret:one} ${secret:two}"}, {"b", {"$${secret:no}"}}},
                           &names);
  EXPECT_EQ(names, (std::set<std::string>{"one", "two"}));
}

TEST(SecretMask, MasksWholeText) {
  EXPECT_EQ(MaskSecrets("pw=hunter2 again hunter2", {"hunter2"}), "pw=**** again ****");
  EXPECT_EQ(MaskSecrets("abcdef", {"abc", "abcdef"}), "****");  // longest first
  EXPECT_EQ(MaskSecrets("nothing", {""}), "nothing");
}

TEST(SecretMask, SecretSplitAcrossChunks) {
  SecretMasker m({"hunter2"});
  std::string sent;
  sent += m.Feed("password is hun");
  EXPECT_EQ(sent.find("hun"), std::string::npos);  // held back: could start the secret
  sent += m.Feed("ter2 ok\n");
  sent += m.Flush();
  EXPECT_EQ(sent, "password is **** ok\n");
}

TEST(SecretMask, EveryPossibleSplit) {
  const std::string text = "a hunter2 b hunter hunter2hunter2 end hunte";
  for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= text.size(); cut2 += 3) {
      SecretMasker m({"hunter2", "xx"});
      std::string sent = m.Feed(text.substr(0, cut1));
      sent += m.Feed(text.substr(cut1, cut2 - cut1));
      sent += m.Feed(text.substr(cut2));
      sent += m.Flush();
      ASSERT_EQ(sent, "a **** b hunter ******** end hunte") << cut1 << "," << cut2;
    }
  }
}

TEST(SecretMask, HeldTailIsShorterThanLongestSecret) {
  SecretMasker m({"abcdef"});
  std::string out = m.Feed("xxxxabcde");
  EXPECT_EQ(out, "xxxx");
  out = m.Feed("z");
  EXPECT_EQ(out, "abcdez");
}

constexpr const char* kPytest = R"(<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4" time="0.1">
<testcase classname="test_app" name="test_ok" time="0.001" />
<testcase classname="test_app" name="test_sum" time="0.001"><failure message="assert 3 == 4">def test_sum():
&gt;       assert 1 + 2 == 4</failure></testcase>
<testcase classname="test_app" name="test_skip" time="0.000"><skipped type="pytest.skip" message="not today">skip</skipped></testcase>
<testcase classname="test_app" name="test_boom" time="0.001"><error message="fixture failed">trace</error></testcase>
</testsuite></testsuites>)";

TEST(JUnit, Pytest) {
  TestSummary s;
  ASSERT_TRUE(ParseJUnit(kPytest, &s).ok());
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.total(), 4);
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0].name, "test_app.test_sum");
  EXPECT_EQ(s.failures[0].kind, "failure");
  EXPECT_EQ(s.failures[0].message, "assert 3 == 4");
  EXPECT_EQ(s.failures[1].kind, "error");
}

TEST(JUnit, GoogleTest) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1" disabled="1" errors="0" name="AllTests">
  <testsuite name="Math" tests="3" failures="1" disabled="1" errors="0">
    <testcase name="Adds" status="run" result="completed" time="0" classname="Math" />
    <testcase name="Divides" status="run" result="completed" time="0" classname="Math">
      <failure message="a.cc:12&#x0A;Expected equality" type=""><![CDATA[a.cc:12
Expected equality]]></failure>
      <failure message="a.cc:13&#x0A;second" type=""><![CDATA[second]]></failure>
    </testcase>
    <testcase name="DISABLED_Slow" status="notrun" result="suppressed" time="0" classname="Math" />
  </testsuite>
</testsuites>)";
  TestSummary s;
  ASSERT_TRUE(ParseJUnit(xml, &s).ok());
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);  // one case, two assertion failures
  EXPECT_EQ(s.skipped, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].name, "Math.Divides");
  EXPECT_EQ(s.failures[0].message, "a.cc:12\nExpected equality");
}

TEST(JUnit, CtestOutputJunit) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Linux" tests="3" failures="1" disabled="0" skipped="1" hostname="" time="0" timestamp="2024-01-01T00:00:00">
	<testcase name="unit_a" classname="unit_a" time="0.01" status="run">
		<system-out>ok</system-out>
	</testcase>
	<testcase name="unit_b" classname="unit_b" time="0.01" status="fail">
		<failure message="Failed"/>
		<system-out>boom</system-out>
	</testcase>
	<testcase name="unit_c" classname="unit_c" time="0" status="notrun">
		<skipped message="Not Run"/>
	</testcase>
</testsuite>)";
  TestSummary s;
  ASSERT_TRUE(ParseJUnit(xml, &s).ok());
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.failures[0].name, "unit_b");  // classname equal to name is not repeated
  EXPECT_EQ(s.failures[0].message, "Failed");
}

TEST(JUnit, SeveralReportsAddUp) {
  TestSummary s;
  ASSERT_TRUE(ParseJUnit(kPytest, &s).ok());
  ASSERT_TRUE(ParseJUnit(kPytest, &s).ok());
  EXPECT_EQ(s.total(), 8);
}

TEST(JUnit, BrokenReportsAreErrorsAndChangeNothing) {
  TestSummary s;
  Status st = ParseJUnit("<testsuite><testcase name=\"a\"></testsuite>", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("malformed XML at line 1"), std::string::npos) << st.message();
  EXPECT_EQ(s.total(), 0);
  st = ParseJUnit("", &s);
  EXPECT_FALSE(st.ok());
  st = ParseJUnit("<html><body>404</body></html>", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a JUnit report"), std::string::npos);
  st = ParseJUnit(std::string("<testsuite>\xff\xfe</testsuite>"), &s);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace grove
