// JUnit counting (src/core/junit.h) on reports shaped as the tools write them, above all the ones
// where something failed outside a test case: a crashed or unloadable suite must not count as
// zero tests and a green build.
#include "core/junit.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

TestSummary Parse(const std::string& xml) {
  TestSummary s;
  Status st = ParseJUnit(xml, &s);
  EXPECT_TRUE(st.ok()) << st.message();
  return s;
}

// Ant's <junit> task when the forked JVM died: no <testcase>, the <error> under <testsuite>.
TEST(JUnitSuiteErrors, CrashedSuiteWithoutTestCasesIsAnError) {
  TestSummary s = Parse(R"xml(<?xml version="1.0" encoding="UTF-8" ?>
<testsuite errors="1" failures="0" hostname="ci" name="com.example.DbTest" skipped="0" tests="1" time="0.0" timestamp="2026-01-02T03:04:05">
  <properties />
  <error message="Forked Java VM exited abnormally. Please note the time in the report does not reflect the time until the VM exit." type="junit.framework.AssertionFailedError">junit.framework.AssertionFailedError: Forked Java VM exited abnormally.</error>
  <system-out><![CDATA[]]></system-out>
  <system-err><![CDATA[#
# A fatal error has been detected by the Java Runtime Environment:
#  SIGSEGV (0xb)
]]></system-err>
</testsuite>)xml");
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.total(), 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].name, "com.example.DbTest");
  EXPECT_EQ(s.failures[0].kind, "error");
  EXPECT_EQ(s.failures[0].message.rfind("Forked Java VM exited abnormally.", 0), 0u);
}

// The suite's own element without a message: its text, else what the suite wrote to stderr.
TEST(JUnitSuiteErrors, SuiteErrorMessageFromTextOrStderr) {
  TestSummary s =
      Parse(R"xml(<testsuite name="a"><error>Segmentation fault</error></testsuite>)xml");
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].message, "Segmentation fault");
  s = Parse(R"xml(<testsuite name="b"><failure/><system-err>core dumped
</system-err></testsuite>)xml");
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].kind, "failure");
  EXPECT_EQ(s.failures[0].message, "core dumped");
  // <system-err> alone is output, not a failure (as in Jenkins).
  s = Parse(R"xml(<testsuite name="c" tests="1"><testcase name="t"/>
<system-err>DeprecationWarning: x</system-err></testsuite>)xml");
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.total(), 1);
  EXPECT_TRUE(s.failures.empty());
}

// jest-junit when a test file fails to run (a syntax error): the suite says errors="1" and has
// no test case at all. The declared errors the cases do not show count.
TEST(JUnitSuiteErrors, DeclaredErrorsWithoutElementsCount) {
  TestSummary s = Parse(R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="1" errors="1" time="1.204">
  <testsuite name="math" errors="0" failures="1" skipped="0" timestamp="2026-01-02T03:04:05" time="0.412" tests="2">
    <testcase classname="math adds" name="math adds" time="0.002">
    </testcase>
    <testcase classname="math divides" name="math divides" time="0.003">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 2
Received: 3
    at Object.toBe (/app/src/math.test.js:9:23)</failure>
    </testcase>
  </testsuite>
  <testsuite name="src/db.test.js" errors="1" failures="0" skipped="0" timestamp="2026-01-02T03:04:05" time="0" tests="0">
  </testsuite>
</testsuites>)xml");
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.errors, 1);  // counted once: the <testsuites> totals agree with it then
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0].name, "math divides");
  EXPECT_EQ(s.failures[1].name, "src/db.test.js");
  EXPECT_EQ(s.failures[1].message,
            "the suite reports 1 errors and failures, its test cases show 0");

  // More than one missing: all count, one entry lists them.
  s = Parse(R"xml(<testsuite name="x" tests="5" errors="2" failures="1"><testcase name="ok"/>
</testsuite>)xml");
  EXPECT_EQ(s.errors, 3);
  EXPECT_EQ(s.failures.size(), 1u);
}

// Maven surefire: a class-level error, a failure, a skip, and a flaky test that passed on a
// rerun (a <flakyFailure> is not a failure). The totals agree with the cases: nothing added.
TEST(JUnitSuiteErrors, MavenSurefire) {
  TestSummary s = Parse(R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0" name="com.example.AppTest" time="0.215" tests="5" errors="1" skipped="1" failures="1">
  <properties>
    <property name="java.version" value="17.0.9"/>
    <property name="failure" value="not an element that counts"/>
  </properties>
  <testcase name="adds" classname="com.example.AppTest" time="0.001"/>
  <testcase name="divides" classname="com.example.AppTest" time="0.002">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <2> but was: <3>
	at com.example.AppTest.divides(AppTest.java:20)
]]></failure>
  </testcase>
  <testcase name="connects" classname="com.example.AppTest" time="0.1">
    <error message="Connection refused" type="java.net.ConnectException"><![CDATA[java.net.ConnectException: Connection refused]]></error>
    <system-err><![CDATA[retrying...]]></system-err>
  </testcase>
  <testcase name="later" classname="com.example.AppTest" time="0">
    <skipped message="not ready"/>
  </testcase>
  <testcase name="flaky" classname="com.example.AppTest" time="0.01">
    <flakyFailure message="timeout" type="java.util.concurrent.TimeoutException">
      <stackTrace><![CDATA[java.util.concurrent.TimeoutException: timeout]]></stackTrace>
    </flakyFailure>
  </testcase>
</testsuite>)xml");
  EXPECT_EQ(s.passed, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.skipped, 1);
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0].message, "expected: <2> but was: <3>");
  EXPECT_EQ(s.failures[1].name, "com.example.AppTest.connects");
}

// pytest: a module that fails to import is an <error> test case; a test that fails and then
// errors in teardown has both elements (and the totals count both).
TEST(JUnitSuiteErrors, Pytest) {
  TestSummary s = Parse(
      R"xml(<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="2" failures="1" skipped="0" tests="4" time="0.120" timestamp="2026-01-02T03:04:05.000000+00:00" hostname="ci"><testcase classname="tests.test_app" name="test_ok" time="0.001" /><testcase classname="tests.test_app" name="test_db" time="0.002"><failure message="assert 1 == 2">def test_db(db):
&gt;       assert 1 == 2
E       assert 1 == 2</failure><error message="failed on teardown with &quot;RuntimeError: still open&quot;">RuntimeError: still open</error></testcase><testcase classname="" name="tests.test_broken" time="0.000"><error message="collection failure">ImportError while importing test module 'tests/test_broken.py'.</error></testcase></testsuite></testsuites>)xml");
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.errors, 2);  // test_db (the worst of its two) and the broken module
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.total(), 3);
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[1].name, "tests.test_broken");
}

// GoogleTest 1.12's --gtest_output=xml, as written by a real run (a failed SetUpTestSuite
// shows only as its tests skipped; the binary's exit status fails the step).
TEST(JUnitSuiteErrors, GoogleTest) {
  TestSummary s = Parse(R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1" disabled="1" errors="0" time="0" timestamp="2026-12-01T00:19:20.128" name="AllTests">
  <testsuite name="Math" tests="4" failures="1" disabled="1" skipped="1" errors="0" time="0" timestamp="2026-12-01T00:19:20.129">
    <testcase name="Adds" file="t.cc" line="2" status="run" result="completed" time="0" timestamp="2026-12-01T00:19:20.129" classname="Math" />
    <testcase name="Fails" file="t.cc" line="3" status="run" result="completed" time="0" timestamp="2026-12-01T00:19:20.129" classname="Math">
      <failure message="t.cc:3&#x0A;Expected equality of these values:&#x0A;  1 + 1&#x0A;    Which is: 2&#x0A;  3&#x0A;arithmetic" type=""><![CDATA[t.cc:3
Expected equality of these values:
  1 + 1
    Which is: 2
  3
arithmetic]]></failure>
      <failure message="t.cc:3&#x0A;Value of: false&#x0A;  Actual: false&#x0A;Expected: true" type=""><![CDATA[t.cc:3
Value of: false
  Actual: false
Expected: true]]></failure>
    </testcase>
    <testcase name="DISABLED_Later" file="t.cc" line="4" status="notrun" result="suppressed" time="0" timestamp="1970-01-01T00:00:00.000" classname="Math" />
    <testcase name="Skips" file="t.cc" line="5" status="run" result="skipped" time="0" timestamp="2026-12-01T00:19:20.129" classname="Math">
      <skipped message="t.cc:5&#x0A;not here"><![CDATA[t.cc:5
not here]]></skipped>
    </testcase>
  </testsuite>
  <testsuite name="Db" tests="1" failures="0" disabled="0" skipped="1" errors="0" time="0" timestamp="2026-12-01T00:19:20.129">
    <testcase name="Query" file="t.cc" line="7" status="run" result="skipped" time="0" timestamp="1970-01-01T00:00:00.000" classname="Db">
      <skipped message="t.cc:7&#x0A;"><![CDATA[t.cc:7
]]></skipped>
    </testcase>
  </testsuite>
</testsuites>)xml");
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);  // one case, two assertions
  EXPECT_EQ(s.skipped, 3);
  EXPECT_EQ(s.errors, 0);
}

// ctest --output-junit (CMake 3.25), from a real run: a failure, a crash (SIGSEGV, a failure),
// a missing executable and a SKIP_RETURN_CODE (status="notrun"), a DISABLED test
// (status="disabled", no <skipped> element): both count as skipped.
TEST(JUnitSuiteErrors, Ctest) {
  TestSummary s = Parse(R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="(empty)"
	tests="6"
	failures="2"
	disabled="1"
	skipped="2"
	hostname=""
	time="0"
	timestamp="2026-12-01T00:02:55"
	>
	<testcase name="pass" classname="pass" time="0.00128303" status="run">
		<system-out></system-out>
	</testcase>
	<testcase name="fail" classname="fail" time="0.00133536" status="fail">
		<failure message=""/>
		<system-out></system-out>
	</testcase>
	<testcase name="missing" classname="missing" time="0" status="notrun">
		<skipped message="Unable to find executable"/>
		<system-out>Unable to find executable: /nonexistent/binary</system-out>
	</testcase>
	<testcase name="disabled" classname="disabled" time="0" status="disabled">
		<system-out>Disabled</system-out>
	</testcase>
	<testcase name="skip" classname="skip" time="0.000998252" status="notrun">
		<skipped message="SKIP_RETURN_CODE=77"/>
		<system-out></system-out>
	</testcase>
	<testcase name="crash" classname="crash" time="0.00104417" status="fail">
		<failure message=""/>
		<system-out></system-out>
	</testcase>
</testsuite>)xml");
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.skipped, 3);
  EXPECT_EQ(s.errors, 0);
}

// Nested suites: each suite's totals are checked against what is inside it, nested suites'
// additions included, so nothing is counted twice.
TEST(JUnitSuiteErrors, NestedSuitesCountOnce) {
  TestSummary s = Parse(R"xml(<testsuites failures="2" errors="1">
  <testsuite name="outer" failures="2" errors="1">
    <testsuite name="inner" failures="1" errors="1">
      <testcase name="a"><failure message="x"/></testcase>
    </testsuite>
    <testsuite name="other" failures="1">
      <error message="suite setup failed"/>
    </testsuite>
  </testsuite>
</testsuites>)xml");
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.errors, 2);  // inner's undeclared error, other's suite error
  EXPECT_EQ(s.total(), 3);
}

// Only the first TestSummary::kMaxFailures failures are listed; the counts stay exact.
TEST(JUnitSuiteErrors, ListedFailuresAreCapped) {
  std::string xml = "<testsuite name=\"big\">";
  for (int i = 0; i < 250; ++i)
    xml += "<testcase name=\"t" + std::to_string(i) + "\"><failure message=\"no\"/></testcase>";
  xml += "<error message=\"and the suite crashed\"/></testsuite>";
  TestSummary s = Parse(xml);
  EXPECT_EQ(s.failed, 250);
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.failures.size(), TestSummary::kMaxFailures);
  EXPECT_EQ(TestSummary::kMaxFailures, 200u);
}

// Hostile shapes: a suite opened inside a suite's <system-err> or <error>, absurd counts.
TEST(JUnitSuiteErrors, OddNestingIsSafe) {
  TestSummary s = Parse(
      "<testsuite name=\"a\"><system-err>x<testsuite name=\"b\"><testsuite name=\"c\">"
      "<error>y</error></testsuite></testsuite>z</system-err>"
      "<error>e<testsuite name=\"d\"/>f</error></testsuite>");
  EXPECT_EQ(s.errors, 2);  // c's and a's
  s = Parse(R"xml(<testsuite errors="99999999999999999999999" failures="-3" tests="x"/>)xml");
  EXPECT_EQ(s.total(), 0);
  // Two counts that each fit but whose sum does not (found by fuzz_junit): capped, no overflow.
  s = Parse(R"xml(<testsuite errors="6980251523623274263" failures="5124095576030431000"/>)xml");
  EXPECT_EQ(s.errors, 2'000'000'000);
}

}  // namespace
}  // namespace grove
