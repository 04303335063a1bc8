#include "master/web_ui.h"

#include <memory>
#include <string_view>
#include <vector>

#include "http/encoding.h"
#include "master/web_assets.h"

namespace grove {

namespace {

std::string ContentType(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

const EmbeddedFile* FindAsset(std::string_view path) {
  for (size_t i = 0; i < kWebAssetsCount; ++i)
    if (kWebAssets[i].path == path) return &kWebAssets[i];
  return nullptr;
}

// Every file's body in each coding, compressed once (the first time the UI is served) rather
// than on each request on the network thread.
const std::vector<std::shared_ptr<const http::EncodedBody>>& EncodedAssets() {
  static const std::vector<std::shared_ptr<const http::EncodedBody>> bodies = [] {
    std::vector<std::shared_ptr<const http::EncodedBody>> v;
    for (size_t i = 0; i < kWebAssetsCount; ++i)
      v.push_back(http::MakeEncodedBody(
          std::string(reinterpret_cast<const char*>(kWebAssets[i].data), kWebAssets[i].size)));
    return v;
  }();
  return bodies;
}

http::Response Serve(const EmbeddedFile& a) {
  http::Response r;
  r.content_type = ContentType(a.path);
  r.encoded = EncodedAssets()[static_cast<size_t>(&a - kWebAssets)];
  r.headers["Cache-Control"] = "no-cache";
  r.headers["X-Content-Type-Options"] = "nosniff";
  return r;
}

}  // namespace

void AddWebUiRoutes(http::Router& router) {
  // The UI is a single page: every path that is not a file serves index.html, and the page
  // routes on the client side.
  auto page = [](const http::Request& req, http::Responder respond) {
    const EmbeddedFile* a = FindAsset(req.path);
    if (!a) a = FindAsset("/index.html");
    if (!a) return respond(http::Response::Error(404, "the web UI is not built into this binary"));
    respond(Serve(*a));
  };
  router.Add("GET", "/", page);
  router.Add("GET", "/ui/{*}", page);
  router.Add("GET", "/static/{*}", [](const http::Request& req, http::Responder respond) {
    const EmbeddedFile* a = FindAsset(req.path.substr(std::string_view("/static").size()));
    if (!a) return respond(http::Response::Error(404, "no such file: " + req.path));
    respond(Serve(*a));
  });
}

}  // namespace grove
