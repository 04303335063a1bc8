#include "core/junit.h"

#include <expat.h>

#include <cstring>
#include <memory>

namespace grove {

namespace {

struct ParseState {
  TestSummary* out = nullptr;
  int depth = 0;
  bool saw_root = false;
  bool root_ok = false;
  // The test case being read.
  bool in_case = false;
  int case_depth = 0;
  std::string name;
  std::string outcome;  // "", "failure", "error", "skipped"
  std::string message;
  bool collect_text = false;
  bool status_skipped = false;
};

const char* Attr(const XML_Char** attrs, const char* key) {
  for (int i = 0; attrs[i]; i += 2)
    if (std::strcmp(attrs[i], key) == 0) return attrs[i + 1];
  return nullptr;
}

void Truncate(std::string* s) {
  if (s->size() > TestSummary::kMaxMessage) {
    s->resize(TestSummary::kMaxMessage);
    s->append("...");
  }
}

void XMLCALL OnStart(void* data, const XML_Char* el, const XML_Char** attrs) {
  auto* st = static_cast<ParseState*>(data);
  ++st->depth;
  if (!st->saw_root) {
    st->saw_root = true;
    st->root_ok = std::strcmp(el, "testsuites") == 0 || std::strcmp(el, "testsuite") == 0;
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
  if (!st->in_case || st->depth != st->case_depth + 1) return;
  std::string kind;
  if (std::strcmp(el, "failure") == 0)
    kind = "failure";
  else if (std::strcmp(el, "error") == 0)
    kind = "error";
  else if (std::strcmp(el, "skipped") == 0)
    kind = "skipped";
  else
    return;
  // The worst outcome wins when a case has several (GoogleTest lists one failure per assertion).
  if (st->outcome == "error" || (st->outcome == "failure" && kind != "error")) return;
  st->outcome = kind;
  const char* msg = Attr(attrs, "message");
  st->message = msg ? msg : "";
  st->collect_text = st->message.empty() && kind != "skipped";
}

void XMLCALL OnEnd(void* data, const XML_Char* el) {
  auto* st = static_cast<ParseState*>(data);
  if (st->in_case && st->depth == st->case_depth && std::strcmp(el, "testcase") == 0) {
    st->in_case = false;
    st->collect_text = false;
    TestSummary& s = *st->out;
    if (st->outcome == "failure" || st->outcome == "error") {
      (st->outcome == "failure" ? s.failed : s.errors)++;
      if (s.failures.size() < TestSummary::kMaxFailures) {
        Truncate(&st->message);
        s.failures.push_back({st->name, st->outcome, st->message});
      }
    } else if (st->outcome == "skipped" || st->status_skipped) {
      s.skipped++;
    } else {
      s.passed++;
    }
  } else if (st->in_case && st->depth == st->case_depth + 1) {
    st->collect_text = false;
  }
  --st->depth;
}

void XMLCALL OnText(void* data, const XML_Char* text, int len) {
  auto* st = static_cast<ParseState*>(data);
  if (st->collect_text && st->message.size() <= TestSummary::kMaxMessage)
    st->message.append(text, static_cast<size_t>(len));
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
