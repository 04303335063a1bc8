// A request as Beast parsed it, turned into the plain http::Request the router and handlers see
// (decoded path, query parameters, lower-case header names). Pure: the server and the HTTP
// fuzz target (tests/fuzz/fuzz_http.cc) share it.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "http/http_types.h"

namespace grove::http {

Request FromBeast(boost::beast::http::request<boost::beast::http::string_body>&& msg,
                  std::string remote);

}  // namespace grove::http
