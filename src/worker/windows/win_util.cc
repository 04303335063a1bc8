#include "worker/windows/win_util.h"

namespace grove::windows {

std::wstring Widen(std::string_view utf8) {
  if (utf8.empty()) return {};
  int n = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

std::string Narrow(std::wstring_view utf16) {
  if (utf16.empty()) return {};
  int n = ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), nullptr,
                                0, nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), out.data(), n,
                        nullptr, nullptr);
  return out;
}

std::string ErrorMessage(DWORD code) {
  wchar_t* buf = nullptr;
  DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string out = n ? Narrow(std::wstring_view(buf, n)) : "error " + std::to_string(code);
  if (buf) ::LocalFree(buf);
  while (!out.empty() &&
         (out.back() == '\n' || out.back() == '\r' || out.back() == ' ' || out.back() == '.'))
    out.pop_back();
  return out;
}

std::string WinHttpError(const std::string& what, DWORD err) {
  const char* text = nullptr;
  switch (err) {
    case 12002:
      text = "timed out";
      break;
    case 12007:
      text = "the host name cannot be resolved";
      break;
    case 12017:
      text = "cancelled";
      break;
    case 12029:
      text = "cannot connect";
      break;
    case 12030:
      text = "the connection was aborted";
      break;
    case 12152:
      text = "invalid answer from the server";
      break;
    case 12157:
      text = "TLS handshake failed (secure channel error)";
      break;
    case 12175:
      text = "TLS certificate not trusted or not valid";
      break;
    case 12037:
    case 12038:
    case 12045:
      text = "TLS certificate not valid";
      break;
    default:
      break;
  }
  return what + ": " + (text ? std::string(text) : ErrorMessage(err)) + " (" + std::to_string(err) +
         ")";
}

std::string ExePath() {
  std::wstring buf(32768, L'\0');
  DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
  return Narrow(std::wstring_view(buf.data(), n));
}

std::string CodePageToUtf8(std::string_view bytes, UINT cp) {
  if (bytes.empty()) return {};
  int n = ::MultiByteToWideChar(cp, 0, bytes.data(), static_cast<int>(bytes.size()), nullptr, 0);
  if (n <= 0) return std::string(bytes);
  std::wstring wide(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(cp, 0, bytes.data(), static_cast<int>(bytes.size()), wide.data(), n);
  return Narrow(wide);
}

}  // namespace grove::windows
