#include "http/beast_request.h"

#include <cctype>

namespace grove::http {

Request FromBeast(boost::beast::http::request<boost::beast::http::string_body>&& msg,
                  std::string remote) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  size_t q = req.target.find('?');
  req.path = UrlDecode(req.target.substr(0, q), false);
  if (q != std::string::npos) req.query = ParseQuery(req.target.substr(q + 1));
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = std::string(field.value());
  }
  req.body = std::move(msg.body());
  req.remote = std::move(remote);
  return req;
}

}  // namespace grove::http
