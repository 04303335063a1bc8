// expat_shim/expat.h over XmlLite. xmllite.dll ships with Windows (and Wine) but mingw has no
// import library for it, so CreateXmlReader is looked up at run time.
#include <objidl.h>
#include <shlwapi.h>
#include <xmllite.h>

#include <string>
#include <vector>

#include "expat.h"
#include "worker/windows/win_util.h"

struct GroveXmlParser {
  void* user = nullptr;
  XML_StartElementHandler start = nullptr;
  XML_EndElementHandler end = nullptr;
  XML_CharacterDataHandler text = nullptr;
  std::string data;
  unsigned long line = 0;
  XML_Error error = XML_ERROR_NONE;
  std::string message;
};

namespace {

using CreateXmlReaderFn = HRESULT(WINAPI*)(REFIID, void**, IMalloc*);

// IID_IXmlReader, {7279FC81-709D-4095-B63D-69FE4B0D9030}.
constexpr GUID kIidXmlReader = {
    0x7279fc81, 0x709d, 0x4095, {0xb6, 0x3d, 0x69, 0xfe, 0x4b, 0x0d, 0x90, 0x30}};

template <typename T>
struct ComPtr {
  T* p = nullptr;
  ~ComPtr() {
    if (p) p->Release();
  }
};

std::string Utf8(const wchar_t* s, UINT n) {
  return grove::windows::Narrow(std::wstring_view(s, n));
}

bool Run(GroveXmlParser* parser) {
  static CreateXmlReaderFn create = [] {
    HMODULE dll = ::LoadLibraryW(L"xmllite.dll");
    return dll ? reinterpret_cast<CreateXmlReaderFn>(::GetProcAddress(dll, "CreateXmlReader"))
               : nullptr;
  }();
  if (!create) {
    parser->message = "xmllite.dll is not available";
    return false;
  }
  ComPtr<IXmlReader> reader;
  if (FAILED(create(kIidXmlReader, reinterpret_cast<void**>(&reader.p), nullptr))) {
    parser->message = "cannot create an XML reader";
    return false;
  }
  ComPtr<IStream> stream;
  stream.p = ::SHCreateMemStream(reinterpret_cast<const BYTE*>(parser->data.data()),
                                 static_cast<UINT>(parser->data.size()));
  if (!stream.p) {
    parser->message = "out of memory";
    return false;
  }
  // No DTDs: a report cannot make the reader fetch or expand anything.
  reader.p->SetProperty(XmlReaderProperty_DtdProcessing, DtdProcessing_Prohibit);
  if (FAILED(reader.p->SetInput(stream.p))) {
    parser->message = "cannot read the document";
    return false;
  }
  XmlNodeType type;
  HRESULT hr;
  while ((hr = reader.p->Read(&type)) == S_OK) {
    const wchar_t* s = nullptr;
    UINT n = 0;
    switch (type) {
      case XmlNodeType_Element: {
        reader.p->GetQualifiedName(&s, &n);
        std::string name = Utf8(s, n);
        bool empty = reader.p->IsEmptyElement();
        std::vector<std::string> strings;
        for (HRESULT a = reader.p->MoveToFirstAttribute(); a == S_OK;
             a = reader.p->MoveToNextAttribute()) {
          reader.p->GetQualifiedName(&s, &n);
          strings.push_back(Utf8(s, n));
          reader.p->GetValue(&s, &n);
          strings.push_back(Utf8(s, n));
        }
        reader.p->MoveToElement();
        std::vector<const XML_Char*> attrs;
        for (const auto& str : strings) attrs.push_back(str.c_str());
        attrs.push_back(nullptr);
        if (parser->start) parser->start(parser->user, name.c_str(), attrs.data());
        if (empty && parser->end) parser->end(parser->user, name.c_str());
        break;
      }
      case XmlNodeType_EndElement:
        reader.p->GetQualifiedName(&s, &n);
        if (parser->end) parser->end(parser->user, Utf8(s, n).c_str());
        break;
      case XmlNodeType_Text:
      case XmlNodeType_CDATA:
      case XmlNodeType_Whitespace: {
        reader.p->GetValue(&s, &n);
        std::string text = Utf8(s, n);
        if (parser->text) parser->text(parser->user, text.data(), static_cast<int>(text.size()));
        break;
      }
      default:
        break;
    }
  }
  UINT line = 0;
  reader.p->GetLineNumber(&line);
  parser->line = line;
  if (FAILED(hr)) {
    parser->message =
        "not well-formed (" + grove::windows::ErrorMessage(static_cast<DWORD>(hr)) + ")";
    return false;
  }
  return true;
}

}  // namespace

extern "C" {

XML_Parser XML_ParserCreate(const XML_Char*) {
  return new (std::nothrow) GroveXmlParser();
}
void XML_ParserFree(XML_Parser parser) {
  delete parser;
}
void XML_SetUserData(XML_Parser parser, void* user) {
  parser->user = user;
}
void XML_SetElementHandler(XML_Parser parser, XML_StartElementHandler start,
                           XML_EndElementHandler end) {
  parser->start = start;
  parser->end = end;
}
void XML_SetCharacterDataHandler(XML_Parser parser, XML_CharacterDataHandler handler) {
  parser->text = handler;
}
enum XML_Status XML_Parse(XML_Parser parser, const char* s, int len, int is_final) {
  parser->data.append(s, static_cast<size_t>(len));
  if (!is_final) return XML_STATUS_OK;
  if (Run(parser)) return XML_STATUS_OK;
  parser->error = XML_ERROR_SYNTAX;
  return XML_STATUS_ERROR;
}
unsigned long XML_GetCurrentLineNumber(XML_Parser parser) {
  return parser->line;
}
enum XML_Error XML_GetErrorCode(XML_Parser parser) {
  return parser->error;
}
const XML_Char* XML_ErrorString(enum XML_Error code) {
  return code == XML_ERROR_NONE ? "no error" : "syntax error";
}

}  // extern "C"
