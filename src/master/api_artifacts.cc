#include "master/api_artifacts.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "master/api_util.h"
#include "master/artifact_path.h"
#include "master/artifact_tokens.h"
#include "master/core_loop.h"
#include "master/read_pool.h"

namespace grove {

using http::Request;
using http::Responder;
using http::Response;

namespace {

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Json ArtifactJson(const ArtifactRecord& a) {
  return {{"path", a.path}, {"size", a.size}, {"sha256", a.sha256}, {"created_at", a.created_at}};
}

// "bytes=A-B", "bytes=A-", "bytes=-N" against |size|; false when unsatisfiable or malformed.
bool ParseRange(const std::string& h, int64_t size, int64_t* from, int64_t* to) {
  if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return false;
  std::string spec = h.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return false;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  int64_t x = 0, y = 0;
  auto num = [](const std::string& s, int64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size() && *v >= 0;
  };
  if (a.empty()) {
    if (!num(b, &y) || y == 0) return false;
    *from = std::max<int64_t>(0, size - y);
    *to = size - 1;
  } else {
    if (!num(a, &x)) return false;
    if (b.empty())
      y = size - 1;
    else if (!num(b, &y))
      return false;
    *from = x;
    *to = std::min(y, size - 1);
  }
  return *from < size && *from <= *to;
}

class ArtifactApi {
 public:
  ArtifactApi(CoreLoop& core, ReadPool& reads, const ArtifactTokens& tokens, ArtifactSettings s)
      : core_(core), reads_(reads), tokens_(tokens), settings_(std::move(s)) {}

  void List(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseId(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    reads_.Run([id, respond](Store& store) {
      BuildRecord b;
      Status st = store.GetBuild(id, &b);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::vector<ArtifactRecord> list;
      st = store.ListArtifacts(id, &list);
      if (!st.ok()) return respond(Response::Error(500, st.message()));
      Json out = Json::array();
      for (const auto& a : list) out.push_back(ArtifactJson(a));
      respond(Response::Json(200, out));
    });
  }

  void Get(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseId(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    std::string rel;
    Status st = CheckArtifactPath(req.params[1], &rel);
    if (!st.ok()) return respond(Response::Error(400, st.message()));
    std::string range = req.Header("range");
    std::string root = settings_.root;
    reads_.Run([id, rel, range, root, respond](Store& store) {
      ArtifactRecord a;
      Status st = store.GetArtifact(id, rel, &a);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::string path = root + "/" + std::to_string(id) + "/" + rel;
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) return respond(Response::Error(404, "artifact file is missing: " + rel));
      int64_t from = 0, to = a.size - 1;
      bool partial = !range.empty();
      if (partial && !ParseRange(range, a.size, &from, &to)) {
        ::close(fd);
        Response r = Response::Error(416, "unsatisfiable range: " + range);
        r.headers["Content-Range"] = "bytes */" + std::to_string(a.size);
        return respond(std::move(r));
      }
      std::string body(static_cast<size_t>(std::max<int64_t>(0, to - from + 1)), '\0');
      size_t got = 0;
      while (got < body.size()) {
        ssize_t n =
            ::pread(fd, body.data() + got, body.size() - got, from + static_cast<int64_t>(got));
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      ::close(fd);
      body.resize(got);
      Response r = Response::Text(partial ? 206 : 200, std::move(body));
      r.content_type = "application/octet-stream";
      r.headers["Accept-Ranges"] = "bytes";
      r.headers["X-Artifact-Sha256"] = a.sha256;
      if (partial)
        r.headers["Content-Range"] = "bytes " + std::to_string(from) + "-" + std::to_string(to) +
                                     "/" + std::to_string(a.size);
      std::string name = rel.substr(rel.rfind('/') + 1);
      r.headers["Content-Disposition"] = "attachment; filename=\"" + name + "\"";
      respond(std::move(r));
    });
  }

  void Put(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseId(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    std::string auth = req.Header("authorization");
    if (auth.rfind("Bearer ", 0) != 0)
      return respond(
          Response::Error(401, "artifact upload needs Authorization: Bearer <build token>"));
    if (!tokens_.Valid(id, auth.substr(7)))
      return respond(
          Response::Error(403, "this token is not valid for build " + std::to_string(id)));
    std::string rel;
    Status st = CheckArtifactPath(req.params[1], &rel);
    if (!st.ok()) return respond(Response::Error(400, st.message()));
    if (static_cast<int64_t>(req.body.size()) > settings_.max_bytes)
      return respond(Response::Error(413, "artifact larger than the limit of " +
                                              std::to_string(settings_.max_bytes) + " bytes"));
    auto body = std::make_shared<std::string>(req.body);
    std::string root = settings_.root + "/" + std::to_string(id);
    CoreLoop* core = &core_;
    // File work on a pool thread, never on the network thread; then the record on the core loop.
    reads_.Run([id, rel, root, body, core, respond](Store& store) {
      BuildRecord b;
      Status st = store.GetBuild(id, &b);
      if (!st.ok()) return respond(ErrorResponse(st));
      if (b.state != "running")
        return respond(Response::Error(409, "build " + std::to_string(id) + " is finished"));
      std::string full;
      st = PrepareArtifactFile(root, rel, &full);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::string tmp = full + ".grove-upload";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(body->data(), static_cast<std::streamsize>(body->size()));
        out.flush();
        if (!out) {
          std::remove(tmp.c_str());
          return respond(Response::Error(500, "cannot write artifact " + rel));
        }
      }
      if (std::rename(tmp.c_str(), full.c_str()) != 0) {
        std::remove(tmp.c_str());
        return respond(Response::Error(500, "cannot store artifact " + rel));
      }
      ArtifactRecord a;
      a.build_id = id;
      a.path = rel;
      a.size = static_cast<int64_t>(body->size());
      a.sha256 = Sha256Hex(*body);
      a.created_at = NowMs();
      core->Post([a, respond](Txn& txn) {
        Status st = txn.store().PutArtifact(a);
        if (!st.ok()) return respond(Response::Error(500, st.message()));
        txn.AfterCommit([a, respond](const Status& st) {
          if (!st.ok()) return respond(Response::Error(500, st.message()));
          respond(Response::Json(201, ArtifactJson(a)));
        });
      });
    });
  }

  void Tests(const Request& req, Responder respond) {
    int64_t id;
    if (!ParseId(req.params[0], &id))
      return respond(Response::Error(400, "invalid build id: " + req.params[0]));
    reads_.Run([id, respond](Store& store) {
      BuildRecord b;
      Status st = store.GetBuild(id, &b);
      if (!st.ok()) return respond(ErrorResponse(st));
      std::vector<StepTestsRecord> steps;
      st = store.ListBuildTests(id, &steps);
      if (!st.ok()) return respond(Response::Error(500, st.message()));
      Json per_step = Json::array();
      for (const auto& s : steps) {
        Json j = s.tests;
        j["step"] = s.idx;
        per_step.push_back(j);
      }
      Json out = TestTotalsJson(steps);
      out["steps"] = per_step;
      respond(Response::Json(200, out));
    });
  }

 private:
  CoreLoop& core_;
  ReadPool& reads_;
  const ArtifactTokens& tokens_;
  ArtifactSettings settings_;
};

}  // namespace

Json TestTotalsJson(const std::vector<StepTestsRecord>& steps) {
  int64_t passed = 0, failed = 0, skipped = 0, errors = 0;
  for (const auto& s : steps) {
    passed += IntOr(s.tests, "passed", 0);
    failed += IntOr(s.tests, "failed", 0);
    skipped += IntOr(s.tests, "skipped", 0);
    errors += IntOr(s.tests, "errors", 0);
  }
  return {{"passed", passed},
          {"failed", failed},
          {"skipped", skipped},
          {"errors", errors},
          {"total", passed + failed + skipped + errors}};
}

bool IsArtifactUpload(const http::Request& req) {
  if (req.method != "PUT" && req.method != "POST") return false;
  if (req.path.rfind("/api/v1/builds/", 0) != 0) return false;
  return req.path.find("/artifacts/") != std::string::npos;
}

void AddArtifactRoutes(http::Router& router, CoreLoop& core, ReadPool& reads,
                       const ArtifactTokens& tokens, ArtifactSettings settings) {
  auto api = std::make_shared<ArtifactApi>(core, reads, tokens, std::move(settings));
  auto bind = [api](void (ArtifactApi::*fn)(const Request&, Responder)) {
    return
        [api, fn](const Request& req, Responder respond) { ((*api).*fn)(req, std::move(respond)); };
  };
  router.Add("GET", "/api/v1/builds/{id}/artifacts", bind(&ArtifactApi::List));
  router.Add("GET", "/api/v1/builds/{id}/artifacts/{*}", bind(&ArtifactApi::Get));
  router.Add("PUT", "/api/v1/builds/{id}/artifacts/{*}", bind(&ArtifactApi::Put));
  router.Add("POST", "/api/v1/builds/{id}/artifacts/{*}", bind(&ArtifactApi::Put));
  router.Add("GET", "/api/v1/builds/{id}/tests", bind(&ArtifactApi::Tests));
}

}  // namespace grove
