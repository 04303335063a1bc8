// Reads JUnit XML test reports: the format written by pytest --junitxml, nosetests
// --with-xunit, GoogleTest --gtest_output=xml, ctest --output-junit and JUnit/Maven surefire.
// Counting follows Jenkins' JUnit plugin: each <testcase> is passed, failed (<failure>), an
// error (<error>) or skipped (<skipped>, status="notrun"/"disabled"), the worst child winning.
// A <testsuite> (at any nesting) counts too when something went wrong outside its cases:
//  - an <error> or <failure> directly under it (a class that failed to load, a crashed
//    fixture) is one more error or failure, named after the suite;
//  - when its errors + failures attributes exceed the <failure>/<error> elements inside it
//    (a runner that crashed before writing its cases), the difference counts as errors.
// Other totals (tests, skipped) are not trusted: they disagree between tools.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

struct TestFailure {
  std::string name;     // "classname.name", or name alone
  std::string kind;     // "failure" | "error"
  std::string message;  // the message attribute, else the element's text (truncated)
};

struct TestSummary {
  int64_t passed = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  int64_t errors = 0;
  std::vector<TestFailure> failures;  // at most kMaxFailures kept; the counts are exact

  static constexpr size_t kMaxFailures = 200;
  static constexpr size_t kMaxMessage = 2000;
  int64_t total() const { return passed + failed + skipped + errors; }
};

// Adds the test cases of one report to |summary|. Malformed XML or a document that is not a
// JUnit report is an Invalid status naming the problem (and the line).
Status ParseJUnit(std::string_view xml, TestSummary* summary);

// {"passed": 3, "failed": 1, "skipped": 0, "errors": 0, "total": 4,
//  "failures": [{"name": "...", "kind": "failure", "message": "..."}]}
Json ToJson(const TestSummary& s);

}  // namespace grove
