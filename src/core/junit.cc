#include "core/junit.h"

#include <expat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

namespace grove {

namespace {

// A <testsuite> (or <testsuites>) being read.
struct Suite {
  int depth = 0;
  std::string name;
  int64_t declared = 0;  // its errors + failures attributes
  int64_t seen = 0;      // <failure>/<error> elements inside it (and what nested suites added)
  std::string outcome;   // "", "failure", "error": an element directly under the suite
  std::string message;
  std::string system_err;
};

struct ParseState {
  TestSummary* out = nullptr;
  int depth = 0;
  bool saw_root = false;
  bool root_ok = false;
  std::vector<Suite> suites;
  // The test case being read.
  bool in_case = false;
  int case_depth = 0;
  std::string name;
  std::string outcome;  // "", "failure", "error", "skipped"
  std::string message;
  bool status_skipped = false;
  std::string* collect = nullptr;  // where character data goes, if anywhere
};

const char* Attr(const XML_Char** attrs, const char* key) {
  for (int i = 0; attrs[i]; i += 2)
    if (std::strcmp(attrs[i], key) == 0) return attrs[i + 1];
  return nullptr;
}

// A count attribute; 0 when absent or not a number.
int64_t CountAttr(const XML_Char** attrs, const char* key) {
  const char* v = Attr(attrs, key);
  if (v == nullptr) return 0;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
  // Capped so that sums over a file's suites cannot overflow: no run has a billion failures.
  constexpr int64_t kMaxCount = 1'000'000'000;
  return ec == std::errc() && n > 0 ? std::min(n, kMaxCount) : 0;
}

void Truncate(std::string* s) {
  if (s->size() > TestSummary::kMaxMessage) {
    s->resize(TestSummary::kMaxMessage);
    s->append("...");
  }
}

bool IsSuite(const XML_Char* el) {
  return std::strcmp(el, "testsuite") == 0 || std::strcmp(el, "testsuites") == 0;
}

// "failure" | "error" for those elements, else "".
const char* ProblemKind(const XML_Char* el) {
  if (std::strcmp(el, "failure") == 0) return "failure";
  if (std::strcmp(el, "error") == 0) return "error";
  return "";
}

void Record(TestSummary& s, const std::string& name, const std::string& kind, std::string message) {
  (kind == "failure" ? s.failed : s.errors)++;
  if (s.failures.size() < TestSummary::kMaxFailures) {
    Truncate(&message);
    s.failures.push_back({name, kind, std::move(message)});
  }
}

void XMLCALL OnStart(void* data, const XML_Char* el, const XML_Char** attrs) {
  auto* st = static_cast<ParseState*>(data);
  ++st->depth;
  if (!st->saw_root) {
    st->saw_root = true;
    st->root_ok = IsSuite(el);
  }
  if (!st->in_case && IsSuite(el)) {
    Suite suite;
    suite.depth = st->depth;
    const char* name = Attr(attrs, "name");
    suite.name = name && *name ? name : "(unnamed suite)";
    suite.declared = CountAttr(attrs, "errors") + CountAttr(attrs, "failures");
    st->collect = nullptr;  // it may point into |suites|, which may move now
    st->suites.push_back(std::move(suite));
    return;
  }
  if (std::strcmp(el, "testcase") == 0 && !st->in_case) {
    st->in_case = true;
    st->case_depth = st->depth;
    const char* name = Attr(attrs, "name");
    const char* cls = Attr(attrs, "classname");
    st->name = name ? name : "(unnamed)";
    if (cls && *cls && std::strcmp(cls, st->name.c_str()) != 0)
      st->name = std::string(cls) + "." + st->name;
    st->outcome.clear();
    st->message.clear();
    // GoogleTest marks disabled tests status="notrun"; ctest uses "notrun" and "disabled".
    const char* status = Attr(attrs, "status");
    const char* result = Attr(attrs, "result");
    st->status_skipped =
        (status && (std::strcmp(status, "notrun") == 0 || std::strcmp(status, "disabled") == 0)) ||
        (result && std::strcmp(result, "skipped") == 0);
    return;
  }
  std::string kind = ProblemKind(el);
  if (st->in_case) {
    if (st->depth != st->case_depth + 1) return;
    if (kind.empty() && std::strcmp(el, "skipped") == 0) kind = "skipped";
    if (kind.empty()) return;
    if (kind != "skipped" && !st->suites.empty()) st->suites.back().seen++;
    // The worst outcome wins when a case has several (GoogleTest lists one failure per
    // assertion; pytest adds a teardown <error> to a failed test).
    if (st->outcome == "error" || (st->outcome == "failure" && kind != "error")) return;
    st->outcome = kind;
    const char* msg = Attr(attrs, "message");
    st->message = msg ? msg : "";
    st->collect = st->message.empty() && kind != "skipped" ? &st->message : nullptr;
    return;
  }
  // Directly under a suite: an <error> or <failure> of the suite itself (a test class that
  // failed to load, a crash in a fixture), and what the suite wrote to stderr.
  if (st->suites.empty() || st->depth != st->suites.back().depth + 1) return;
  Suite& suite = st->suites.back();
  if (std::strcmp(el, "system-err") == 0) {
    st->collect = &suite.system_err;
    return;
  }
  if (kind.empty()) return;
  suite.seen++;
  if (suite.outcome == "error" || (suite.outcome == "failure" && kind != "error")) return;
  suite.outcome = kind;
  const char* msg = Attr(attrs, "message");
  suite.message = msg ? msg : "";
  st->collect = suite.message.empty() ? &suite.message : nullptr;
}

// A suite ends: its own error, and the failures its counts declare that no element showed.
void EndSuite(ParseState* st) {
  Suite suite = std::move(st->suites.back());
  st->suites.pop_back();
  TestSummary& s = *st->out;
  std::string err = suite.system_err;
  while (!err.empty() && std::isspace(static_cast<unsigned char>(err.back()))) err.pop_back();
  if (!suite.outcome.empty())
    Record(s, suite.name, suite.outcome, suite.message.empty() ? err : suite.message);
  int64_t missing = suite.declared - suite.seen;
  if (missing > 0) {
    std::string message = "the suite reports " + std::to_string(suite.declared) +
                          " errors and failures, its test cases show " + std::to_string(suite.seen);
    if (!err.empty()) message += ": " + err;
    s.errors += missing - 1;  // one entry for them all
    Record(s, suite.name, "error", std::move(message));
  }
  if (!st->suites.empty()) st->suites.back().seen += suite.seen + std::max<int64_t>(missing, 0);
}

void XMLCALL OnEnd(void* data, const XML_Char* el) {
  auto* st = static_cast<ParseState*>(data);
  if (st->in_case && st->depth == st->case_depth && std::strcmp(el, "testcase") == 0) {
    st->in_case = false;
    st->collect = nullptr;
    TestSummary& s = *st->out;
    if (st->outcome == "failure" || st->outcome == "error") {
      Record(s, st->name, st->outcome, std::move(st->message));
    } else if (st->outcome == "skipped" || st->status_skipped) {
      s.skipped++;
    } else {
      s.passed++;
    }
  } else if (st->in_case && st->depth == st->case_depth + 1) {
    st->collect = nullptr;
  } else if (!st->in_case && !st->suites.empty()) {
    if (st->depth == st->suites.back().depth + 1)
      st->collect = nullptr;
    else if (st->depth == st->suites.back().depth && IsSuite(el))
      EndSuite(st);
  }
  --st->depth;
}

void XMLCALL OnText(void* data, const XML_Char* text, int len) {
  auto* st = static_cast<ParseState*>(data);
  if (st->collect && st->collect->size() <= TestSummary::kMaxMessage)
    st->collect->append(text, static_cast<size_t>(len));
}

}  // namespace

Status ParseJUnit(std::string_view xml, TestSummary* summary) {
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(
      XML_ParserCreate(nullptr), &XML_ParserFree);
  if (!parser) return Status::IoError("cannot create an XML parser");
  TestSummary parsed;
  ParseState st;
  st.out = &parsed;
  XML_SetUserData(parser.get(), &st);
  XML_SetElementHandler(parser.get(), OnStart, OnEnd);
  XML_SetCharacterDataHandler(parser.get(), OnText);
  // Feed in pieces: XML_Parse takes an int length.
  constexpr size_t kPiece = 1 << 20;
  size_t pos = 0;
  do {
    size_t n = std::min(kPiece, xml.size() - pos);
    bool last = pos + n == xml.size();
    if (XML_Parse(parser.get(), xml.data() + pos, static_cast<int>(n), last) != XML_STATUS_OK) {
      return Status::Invalid("malformed XML at line " +
                             std::to_string(XML_GetCurrentLineNumber(parser.get())) + ": " +
                             XML_ErrorString(XML_GetErrorCode(parser.get())));
    }
    pos += n;
  } while (pos < xml.size());
  if (!st.saw_root) return Status::Invalid("empty XML document");
  if (!st.root_ok)
    return Status::Invalid(
        "not a JUnit report: the root element is not <testsuites> or <testsuite>");
  summary->passed += parsed.passed;
  summary->failed += parsed.failed;
  summary->skipped += parsed.skipped;
  summary->errors += parsed.errors;
  for (auto& f : parsed.failures)
    if (summary->failures.size() < TestSummary::kMaxFailures)
      summary->failures.push_back(std::move(f));
  return Status::Ok();
}

Json ToJson(const TestSummary& s) {
  Json failures = Json::array();
  for (const auto& f : s.failures)
    failures.push_back({{"name", f.name}, {"kind", f.kind}, {"message", f.message}});
  return {{"passed", s.passed}, {"failed", s.failed}, {"skipped", s.skipped},
          {"errors", s.errors}, {"total", s.total()}, {"failures", failures}};
}

}  // namespace grove
