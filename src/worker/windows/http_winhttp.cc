// PerformHttp (http_call.h) with WinHTTP, the HTTP client of the Windows API: TLS by SChannel
// with the certificates Windows trusts, the proxy configured for WinHTTP (netsh winhttp).
// The calls are synchronous (HttpCall runs them on a thread of its own); a cancel is seen
// between two blocks of the body.
// windows.h first: winhttp.h does not include what it uses.
#include "worker/windows/win_util.h"
// (this order)
#include <winhttp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "worker/http_call.h"
#include "worker/path_utf8.h"

namespace grove {

namespace {

constexpr size_t kMaxKeptBody = 64 * 1024;
constexpr size_t kBlock = 64 * 1024;

using windows::ErrorMessage;
using windows::Widen;

struct InternetHandle {
  HINTERNET h = nullptr;
  explicit InternetHandle(HINTERNET x) : h(x) {}
  ~InternetHandle() {
    if (h) ::WinHttpCloseHandle(h);
  }
  InternetHandle(const InternetHandle&) = delete;
  InternetHandle& operator=(const InternetHandle&) = delete;
};

std::string LastError(const std::string& what) {
  return windows::WinHttpError(what, ::GetLastError());
}

std::string Base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool WriteAll(HINTERNET request, const char* data, size_t size) {
  while (size > 0) {
    DWORD written = 0;
    if (!::WinHttpWriteData(request, data, static_cast<DWORD>(std::min(size, kBlock)), &written))
      return false;
    data += written;
    size -= written;
  }
  return true;
}

}  // namespace

HttpOutcome PerformHttp(const HttpRequestSpec& spec, const std::atomic<bool>* cancelled) {
  HttpOutcome out;
  std::wstring url = Widen(spec.url);
  URL_COMPONENTS parts{};
  parts.dwStructSize = sizeof parts;
  parts.dwHostNameLength = parts.dwUrlPathLength = parts.dwExtraInfoLength = 1;
  if (!::WinHttpCrackUrl(url.c_str(), 0, 0, &parts)) {
    out.error = "invalid URL '" + spec.url + "'";
    return out;
  }
  std::wstring host(parts.lpszHostName, parts.dwHostNameLength);
  std::wstring path(parts.lpszUrlPath, parts.dwUrlPathLength);
  path.append(parts.lpszExtraInfo, parts.dwExtraInfoLength);
  if (path.empty()) path = L"/";
  bool secure = parts.nScheme == INTERNET_SCHEME_HTTPS;

  InternetHandle session(::WinHttpOpen(L"grove-worker/0.1", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                                       WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0));
  if (!session.h) {
    out.error = LastError("cannot start WinHTTP");
    return out;
  }
  int connect_ms = static_cast<int>(spec.connect_timeout_s * 1000);
  int io_ms = static_cast<int>(spec.timeout_s * 1000);
  ::WinHttpSetTimeouts(session.h, connect_ms, connect_ms, io_ms, io_ms);
  InternetHandle connection(::WinHttpConnect(session.h, host.c_str(), parts.nPort, 0));
  if (!connection.h) {
    out.error = LastError("cannot connect");
    return out;
  }
  std::wstring method = Widen(spec.method);
  InternetHandle request(::WinHttpOpenRequest(connection.h, method.c_str(), path.c_str(), nullptr,
                                              WINHTTP_NO_REFERER, WINHTTP_DEFAULT_ACCEPT_TYPES,
                                              secure ? WINHTTP_FLAG_SECURE : 0));
  if (!request.h) {
    out.error = LastError("cannot open the request");
    return out;
  }

  std::string headers;
  for (const auto& h : spec.headers) headers += h + "\r\n";
  if (!spec.userpwd.empty()) headers += "Authorization: Basic " + Base64(spec.userpwd) + "\r\n";

  // The body: a file (PUT), a multipart form around a file (POST), or bytes in memory.
  std::ifstream file;
  uint64_t file_size = 0;
  std::string preamble, epilogue;
  if (!spec.body_file.empty()) {
    std::error_code ec;
    file_size = std::filesystem::file_size(Utf8Path(spec.body_file), ec);
    file.open(Utf8Path(spec.body_file), std::ios::binary);
    if (ec || !file) {
      out.error = "cannot open " + spec.body_file;
      return out;
    }
    if (spec.method == "POST") {
      std::string boundary =
          "grove-" + std::to_string(std::random_device{}()) + std::to_string(::GetTickCount64());
      std::string name = PathUtf8(Utf8Path(spec.body_file).filename());
      std::string field = spec.multipart_field.empty() ? "file" : spec.multipart_field;
      headers += "Content-Type: multipart/form-data; boundary=" + boundary + "\r\n";
      preamble = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field +
                 "\"; filename=\"" + name + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
      epilogue = "\r\n--" + boundary + "--\r\n";
    }
  } else {
    preamble = spec.body;
  }
  uint64_t total = preamble.size() + file_size + epilogue.size();
  std::wstring wheaders = Widen(headers);
  if (!::WinHttpSendRequest(
          request.h, wheaders.empty() ? WINHTTP_NO_ADDITIONAL_HEADERS : wheaders.c_str(),
          static_cast<DWORD>(wheaders.size()), WINHTTP_NO_REQUEST_DATA, 0,
          total > 0xFFFFFFFFull ? WINHTTP_IGNORE_REQUEST_TOTAL_LENGTH : static_cast<DWORD>(total),
          0)) {
    out.error = LastError("cannot send the request");
    return out;
  }
  if (!WriteAll(request.h, preamble.data(), preamble.size())) {
    out.error = LastError("cannot send the body");
    return out;
  }
  if (file.is_open()) {
    std::vector<char> block(kBlock);
    while (file) {
      if (cancelled->load()) {
        out.cancelled = true;
        out.error = "cancelled";
        return out;
      }
      file.read(block.data(), static_cast<std::streamsize>(block.size()));
      if (file.gcount() > 0 &&
          !WriteAll(request.h, block.data(), static_cast<size_t>(file.gcount()))) {
        out.error = LastError("cannot send " + spec.body_file);
        return out;
      }
    }
  }
  if (!WriteAll(request.h, epilogue.data(), epilogue.size())) {
    out.error = LastError("cannot send the body");
    return out;
  }
  if (!::WinHttpReceiveResponse(request.h, nullptr)) {
    out.error = LastError("no answer");
    return out;
  }
  DWORD status = 0, size = sizeof status;
  ::WinHttpQueryHeaders(request.h, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                        WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX);
  out.status = static_cast<int>(status);

  // A 2xx answer of a download goes to a temporary file, renamed when complete; any other
  // answer's start is kept for the log.
  std::string tmp;
  std::ofstream save;
  if (!spec.save_to.empty() && out.status / 100 == 2) {
    tmp = spec.save_to + ".grove-download";
    std::error_code ec;
    std::filesystem::create_directories(Utf8Path(spec.save_to).parent_path(), ec);
    save.open(Utf8Path(tmp), std::ios::binary | std::ios::trunc);
    if (!save) {
      out.error = "cannot write " + tmp;
      return out;
    }
  }
  std::vector<char> block(kBlock);
  while (true) {
    if (cancelled->load()) {
      out.cancelled = true;
      out.error = "cancelled";
      break;
    }
    DWORD got = 0;
    if (!::WinHttpReadData(request.h, block.data(), static_cast<DWORD>(block.size()), &got)) {
      out.error = LastError("cannot read the answer");
      break;
    }
    if (got == 0) break;
    if (save.is_open()) {
      if (!save.write(block.data(), got)) {
        out.error = "cannot write " + tmp;
        break;
      }
    } else if (out.body.size() < kMaxKeptBody) {
      out.body.append(block.data(), std::min<size_t>(got, kMaxKeptBody - out.body.size()));
    }
  }
  if (save.is_open()) {
    save.close();
    std::error_code ec;
    if (out.error.empty() && save) {
      std::filesystem::rename(Utf8Path(tmp), Utf8Path(spec.save_to), ec);
      if (ec) out.error = "cannot move the download to " + spec.save_to + ": " + ec.message();
    } else {
      if (out.error.empty()) out.error = "cannot write " + tmp;
      std::filesystem::remove(Utf8Path(tmp), ec);
    }
  }
  return out;
}

}  // namespace grove
