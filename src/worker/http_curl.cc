// PerformHttp (http_call.h) with libcurl.
#include <curl/curl.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "worker/curl_cloexec.h"
#include "worker/http_call.h"

namespace grove {

namespace {

constexpr size_t kMaxKeptBody = 64 * 1024;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  FILE* file = nullptr;
  std::string* body = nullptr;
  bool write_error = false;
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * n;
  if (sink->file) {
    if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
      sink->write_error = true;
      return 0;
    }
    return bytes;
  }
  if (sink->body->size() < kMaxKeptBody)
    sink->body->append(data, std::min(bytes, kMaxKeptBody - sink->body->size()));
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;  // non-zero aborts
}

}  // namespace

HttpOutcome PerformHttp(const HttpRequestSpec& spec, const std::atomic<bool>* cancelled) {
  GlobalInit();
  HttpOutcome out;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    out.error = "cannot initialise libcurl";
    return out;
  }
  CURL* c = curl.get();
  UseCloexecSockets(c);
  curl_easy_setopt(c, CURLOPT_URL, spec.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, spec.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, spec.timeout_s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancelled));
  curl_slist* headers = nullptr;
  for (const auto& h : spec.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           &curl_slist_free_all);
  if (!spec.userpwd.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, spec.userpwd.c_str());
  }

  std::unique_ptr<FILE, decltype(&std::fclose)> upload(nullptr, &std::fclose);
  std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime(nullptr, &curl_mime_free);
  if (spec.body_file.empty() && spec.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(spec.body.size()));
  } else if (spec.method == "PUT") {
    upload.reset(std::fopen(spec.body_file.c_str(), "rbe"));
    if (!upload) {
      out.error = "cannot open " + spec.body_file;
      return out;
    }
    std::error_code ec;
    auto size = std::filesystem::file_size(spec.body_file, ec);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, upload.get());
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(ec ? 0 : size));
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    header_guard.release();
    header_guard.reset(headers);
  } else if (spec.method == "POST") {
    mime.reset(curl_mime_init(c));
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_name(part, spec.multipart_field.empty() ? "file" : spec.multipart_field.c_str());
    if (curl_mime_filedata(part, spec.body_file.c_str()) != CURLE_OK) {
      out.error = "cannot read " + spec.body_file;
      return out;
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  }
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  Sink sink;
  sink.body = &out.body;
  std::string tmp;
  std::unique_ptr<FILE, decltype(&std::fclose)> save(nullptr, &std::fclose);
  if (!spec.save_to.empty()) {
    tmp = spec.save_to + ".grove-download";
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(spec.save_to).parent_path(), ec);
    save.reset(std::fopen(tmp.c_str(), "wbe"));
    if (!save) {
      out.error = "cannot write " + tmp;
      return out;
    }
    sink.file = save.get();
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  // A failing answer's body is wanted in memory (for the log), not in the file.
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  if (rc == CURLE_ABORTED_BY_CALLBACK && cancelled->load()) {
    out.cancelled = true;
    out.error = "cancelled";
  } else if (rc != CURLE_OK) {
    out.error = sink.write_error ? "cannot write " + tmp : curl_easy_strerror(rc);
  }
  if (save) {
    save.reset();
    std::error_code ec;
    if (out.error.empty() && out.status / 100 == 2) {
      std::filesystem::rename(tmp, spec.save_to, ec);
      if (ec) out.error = "cannot move the download to " + spec.save_to + ": " + ec.message();
    } else {
      // Keep the start of an error answer for the log.
      if (out.status >= 400) {
        std::FILE* f = std::fopen(tmp.c_str(), "rbe");
        if (f) {
          char buf[4096];
          size_t n = std::fread(buf, 1, sizeof buf, f);
          out.body.assign(buf, n);
          std::fclose(f);
        }
      }
      std::filesystem::remove(tmp, ec);
    }
  }
  return out;
}

}  // namespace grove
