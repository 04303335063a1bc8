#include "worker/http_call.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cctype>

namespace grove {

std::unique_ptr<HttpCall> HttpCall::Start(boost::asio::io_context& io, HttpRequestSpec spec,
                                          Done done) {
  std::unique_ptr<HttpCall> call(new HttpCall());
  auto cancelled = call->cancelled_;
  auto alive = call->alive_;
  call->thread_ = std::thread(
      [&io, spec = std::move(spec), done = std::move(done), cancelled, alive]() mutable {
        HttpOutcome out = PerformHttp(spec, cancelled.get());
        boost::asio::post(io, [alive, done = std::move(done), out = std::move(out)]() mutable {
          if (alive->load()) done(std::move(out));
        });
      });
  return call;
}

HttpCall::~HttpCall() {
  alive_->store(false);
  cancelled_->store(true);
  if (thread_.joinable()) thread_.join();
}

std::string HttpCall::EscapePath(const std::string& path) {
  // As curl_easy_escape: everything but RFC 3986's unreserved characters, per '/'-separated part.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace grove
