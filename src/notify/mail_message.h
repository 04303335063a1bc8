// A notice as an Internet mail message (RFC 5322 + MIME): plain-text and HTML alternatives,
// UTF-8, base64 bodies (so no line is ever too long), RFC 2047 subjects, Date and Message-ID.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace grove::notify {

struct MailMessage {
  std::string from;             // "grove@example.org" or "Grove <grove@example.org>"
  std::vector<std::string> to;  // addresses
  std::string subject;          // one line (line breaks become spaces)
  std::string text;             // the plain-text part
  std::string html;             // the HTML part ("" = text only)
  std::string message_id;       // without angle brackets: "grove.n12.b34@example.org"
  int64_t date_ms = 0;
  std::vector<std::pair<std::string, std::string>> extra_headers;  // X-Grove-Build, ...
};

// The whole message, CRLF line ends, ready for SMTP DATA.
std::string ComposeMail(const MailMessage& m);

// "Tue, 03 Feb 2026 10:04:05 +0000"
std::string MailDate(int64_t ms);

// The text as minimal HTML: escaped, in a <pre>, with http(s) links clickable.
std::string TextToHtml(const std::string& title, const std::string& text);

}  // namespace grove::notify
