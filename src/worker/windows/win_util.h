// Small Windows helpers shared by the Windows worker's files: UTF-8 ⇄ UTF-16, error messages,
// an owned HANDLE.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <string>
#include <string_view>
#include <utility>

namespace grove::windows {

std::wstring Widen(std::string_view utf8);
std::string Narrow(std::wstring_view utf16);
// The system's message for a Win32 error code, in UTF-8, without the trailing newline.
std::string ErrorMessage(DWORD code);
// WinHTTP's message for |err| (its errors' texts are in winhttp.dll, which Wine lacks), e.g.
// "cannot connect: TLS certificate not trusted or not valid (12175)".
std::string WinHttpError(const std::string& what, DWORD err);
// The full path of this executable.
std::string ExePath();
// Bytes in code page |cp| (e.g. the console's OEM page) as UTF-8.
std::string CodePageToUtf8(std::string_view bytes, UINT cp);

// Owns one HANDLE (INVALID_HANDLE_VALUE and null both mean none).
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(HANDLE h) : h_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(o.release()) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    reset(o.release());
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  HANDLE get() const { return h_; }
  HANDLE release() { return std::exchange(h_, nullptr); }
  void reset(HANDLE h = nullptr) {
    if (valid()) ::CloseHandle(h_);
    h_ = h;
  }
  bool valid() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  explicit operator bool() const { return valid(); }

 private:
  HANDLE h_ = nullptr;
};

}  // namespace grove::windows
