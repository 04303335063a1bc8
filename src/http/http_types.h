// Plain HTTP request and response values passed between the server and the route handlers,
// so that handlers never see Beast's types.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace grove::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received: "/api/v1/builds/3?x=1"
  std::string path;    // decoded path without the query: "/api/v1/builds/3"
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::vector<std::string> params;  // the path's {placeholders}, filled by the router
  std::string remote;               // peer address

  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name, const std::string& fallback = "") const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;

  static Response Json(int status, const nlohmann::json& body);
  // {"error": message} with the status: what every failing API call answers.
  static Response Error(int status, const std::string& message);
  static Response Text(int status, std::string body);
};

// Handlers answer through |respond|, from any thread, exactly once.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Responder)>;

// "%2F" → "/", "+" stays "+" (paths) or becomes " " (query, when |plus_is_space|).
std::string UrlDecode(const std::string& s, bool plus_is_space);
std::map<std::string, std::string> ParseQuery(const std::string& query);

}  // namespace grove::http
