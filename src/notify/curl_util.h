// What the libcurl-based notifiers share: global init once, an owning handle, and the server's
// last answer line (captured from libcurl's debug stream, never our own lines: those may hold a
// password).
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <string>

namespace grove::notify {

void EnsureCurl();

struct CurlCleanup {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlCleanup>;

struct CurlSlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlList = std::unique_ptr<curl_slist, CurlSlistFree>;
void Append(CurlList& list, const std::string& item);

// Keeps what the server answered (SMTP replies: "550 5.1.1 <x@y>: Recipient ...").
struct ServerLines {
  std::string last;   // the last reply line, the goodbye of QUIT excepted
  std::string error;  // the first reply with a 4xx or 5xx code
  // The error when there is one, else the last line.
  const std::string& answer() const { return error.empty() ? last : error; }
  // Installs the capture on |c| (CURLOPT_VERBOSE + CURLOPT_DEBUGFUNCTION).
  void Attach(CURL* c);
};

// Makes the transfer on |c| give up (CURLE_ABORTED_BY_CALLBACK) once |*flag| is set.
void AbortWhen(CURL* c, const std::atomic<bool>* flag);

}  // namespace grove::notify
