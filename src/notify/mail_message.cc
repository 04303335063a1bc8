#include "notify/mail_message.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <time.h>

namespace grove::notify {

namespace {

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Base64 in lines of 76 characters, as MIME wants.
std::string Base64Lines(const std::string& in) {
  std::string b = Base64(in), out;
  for (size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

bool IsAscii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 127 || (c < 32 && c != '\t')) return false;
  return true;
}

std::string HeaderLine(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

// An RFC 2047 encoded word when |s| is not plain ASCII. Long text is cut (a subject is a line).
std::string HeaderText(std::string s) {
  s = HeaderLine(std::move(s));
  if (s.size() > 300) s = s.substr(0, 300);
  if (IsAscii(s)) return s;
  // Encoded words may be at most 75 characters: split the text into pieces of 45 bytes,
  // without cutting a UTF-8 sequence.
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + 45);
    while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(s.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  unsigned char buf[32];
  if (bytes > sizeof buf) bytes = sizeof buf;
  if (RAND_bytes(buf, static_cast<int>(bytes)) != 1) return "0";
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out += kHex[buf[i] >> 4];
    out += kHex[buf[i] & 15];
  }
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string MailDate(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
           kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string TextToHtml(const std::string& title, const std::string& text) {
  std::string body;
  size_t i = 0;
  while (i < text.size()) {
    size_t http = text.find("http", i);
    if (http == std::string::npos) {
      body += HtmlEscape(text.substr(i));
      break;
    }
    bool link = text.compare(http, 7, "http://") == 0 || text.compare(http, 8, "https://") == 0;
    size_t end = http;
    if (link)
      while (end < text.size() && !isspace(static_cast<unsigned char>(text[end])) &&
             text[end] != '"' && text[end] != '<' && text[end] != '>')
        ++end;
    else
      end = http + 4;
    body += HtmlEscape(text.substr(i, http - i));
    std::string piece = HtmlEscape(text.substr(http, end - http));
    body += link ? "<a href=\"" + piece + "\">" + piece + "</a>" : piece;
    i = end;
  }
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
         "</title></head>\n<body><pre style=\"font-family: monospace; white-space: pre-wrap\">" +
         body + "</pre></body></html>\n";
}

std::string ComposeMail(const MailMessage& m) {
  std::string to;
  for (const std::string& a : m.to) to += (to.empty() ? "" : ",\r\n ") + a;
  std::string h;
  h += "Date: " + MailDate(m.date_ms) + "\r\n";
  h += "From: " + HeaderLine(m.from) + "\r\n";
  h += "To: " + to + "\r\n";
  h += "Subject: " + HeaderText(m.subject) + "\r\n";
  h += "Message-ID: <" + HeaderLine(m.message_id) + ">\r\n";
  h += "MIME-Version: 1.0\r\n";
  // RFC 3834: an automatic message; well-behaved autoresponders do not answer it.
  h += "Auto-Submitted: auto-generated\r\n";
  for (const auto& [k, v] : m.extra_headers) h += k + ": " + HeaderLine(v) + "\r\n";
  auto part = [](const char* type, const std::string& content) {
    return std::string("Content-Type: ") + type +
           "; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + Base64Lines(content);
  };
  if (m.html.empty()) return h + part("text/plain", m.text);
  std::string boundary = "=_grove_" + RandomHex(12);
  h += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  h += "This is a MIME message with a plain-text and an HTML part.\r\n";
  h += "--" + boundary + "\r\n" + part("text/plain", m.text);
  h += "--" + boundary + "\r\n" + part("text/html", m.html);
  h += "--" + boundary + "--\r\n";
  return h;
}

}  // namespace grove::notify
