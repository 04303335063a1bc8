// The part of expat's API that core/junit.cc uses, implemented over XmlLite (the XML reader of
// the Windows API) in expat_xmllite.cc, so the Windows worker reads JUnit reports with the same
// code as Linux: Debian has no mingw build of expat. Not a general expat replacement: the
// document is parsed when the last piece arrives (JUnit reports are read whole anyway).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef char XML_Char;
typedef struct GroveXmlParser* XML_Parser;
typedef void (*XML_StartElementHandler)(void* user, const XML_Char* name, const XML_Char** attrs);
typedef void (*XML_EndElementHandler)(void* user, const XML_Char* name);
typedef void (*XML_CharacterDataHandler)(void* user, const XML_Char* s, int len);

enum XML_Status { XML_STATUS_ERROR = 0, XML_STATUS_OK = 1 };
enum XML_Error { XML_ERROR_NONE = 0, XML_ERROR_SYNTAX = 2, XML_ERROR_NO_MEMORY = 1 };

#define XMLCALL

XML_Parser XML_ParserCreate(const XML_Char* encoding);
void XML_ParserFree(XML_Parser parser);
void XML_SetUserData(XML_Parser parser, void* user);
void XML_SetElementHandler(XML_Parser parser, XML_StartElementHandler start,
                           XML_EndElementHandler end);
void XML_SetCharacterDataHandler(XML_Parser parser, XML_CharacterDataHandler handler);
enum XML_Status XML_Parse(XML_Parser parser, const char* s, int len, int is_final);
unsigned long XML_GetCurrentLineNumber(XML_Parser parser);
enum XML_Error XML_GetErrorCode(XML_Parser parser);
const XML_Char* XML_ErrorString(enum XML_Error code);

#ifdef __cplusplus
}
#endif
