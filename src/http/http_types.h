// Plain HTTP request and response values passed between the server and the route handlers,
// so that handlers never see Beast's types.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace grove::http {

struct EncodedBody;  // http/encoding.h

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received: "/api/v1/builds/3?x=1"
  std::string path;    // decoded path without the query: "/api/v1/builds/3"
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::vector<std::string> params;  // the path's {placeholders}, filled by the router
  std::string remote;               // peer address
  // Who asks, filled by the router's guard (http/router.h) before the handler runs:
  // empty user = anonymous; role "viewer" | "developer" | "admin" | "" (none).
  std::string user;
  std::string role;

  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name, const std::string& fallback = "") const;
};

// The open end of a streaming answer (Server-Sent Events). Write() may be called from any thread
// and never blocks: it queues the bytes for the connection's thread and returns false once the
// connection is closed or more than its bound is waiting (the stream is then closed: a slow
// reader is dropped rather than allowed to hold memory; it reconnects and resynchronises).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool Write(std::string bytes) = 0;
  virtual bool closed() const = 0;
  virtual void Close() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  // When set, the server sends the status and headers without a length, keeps the connection
  // open and hands its sink to this callback (on the network thread); |body| is ignored.
  std::function<void(std::shared_ptr<StreamSink>)> on_stream;
  // When set, the body in every coding, shared with a cache: the server sends the one the
  // client accepts without copying it, and |body| is ignored. Otherwise a text |body| above
  // kMinCompressBytes is compressed for the client on the handler's thread.
  std::shared_ptr<const EncodedBody> encoded;

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
