// HttpCall: one HTTP request made by a worker step (artifact upload/download, publish, trigger)
// on a thread of its own, so that the worker's io_context never blocks on the network. The
// result is delivered on the io_context's thread.
//
// The request itself (PerformHttp) is the platform's: libcurl on Linux (http_curl.cc), WinHTTP
// on Windows (windows/http_winhttp.cc).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace grove {

struct HttpRequestSpec {
  std::string method = "GET";        // GET, PUT or POST
  std::string url;                   // http:// or https://
  std::vector<std::string> headers;  // "Name: value"
  std::string userpwd;               // basic auth "user:password" (never logged)
  std::string body_file;             // PUT: the body; POST: the multipart file part
  std::string multipart_field;       // POST with body_file: the part's name
  std::string body;                  // PUT/POST without body_file: the body itself
  std::string save_to;               // GET: write a 2xx body here (else it is kept in |body|)
  long timeout_s = 600;
  long connect_timeout_s = 30;
};

struct HttpOutcome {
  int status = 0;     // 0 when no answer came (see |error|)
  std::string error;  // connection failures, file errors, cancellation
  std::string body;   // the answer (first 64 KiB) unless saved to a file
  bool cancelled = false;
};

// Makes the request and waits for its end (blocking). Sets |cancelled| to abort it; the outcome
// then says cancelled.
HttpOutcome PerformHttp(const HttpRequestSpec& spec, const std::atomic<bool>* cancelled);

class HttpCall {
 public:
  using Done = std::function<void(HttpOutcome)>;
  // Starts the request at once; |done| runs on |io|'s thread unless the call was destroyed.
  static std::unique_ptr<HttpCall> Start(boost::asio::io_context& io, HttpRequestSpec spec,
                                         Done done);
  ~HttpCall();  // cancels and joins
  void Cancel() { cancelled_->store(true); }

  // "a b/c" → "a%20b/c": each '/'-separated part escaped on its own.
  static std::string EscapePath(const std::string& path);

 private:
  HttpCall() = default;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::thread thread_;
};

}  // namespace grove
