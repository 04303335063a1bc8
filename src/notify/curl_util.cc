#include "notify/curl_util.h"

#include <cctype>
#include <mutex>

namespace grove::notify {

void EnsureCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void Append(CurlList& list, const std::string& item) {
  curl_slist* l = curl_slist_append(list.get(), item.c_str());
  if (l) {
    (void)list.release();
    list.reset(l);
  }
}

namespace {

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return 0;
  auto* lines = static_cast<ServerLines*>(user);
  line = line.substr(0, 500);
  if (lines->error.empty() && line.size() >= 3 && (line[0] == '4' || line[0] == '5') &&
      isdigit(static_cast<unsigned char>(line[1])) && isdigit(static_cast<unsigned char>(line[2])))
    lines->error = line;
  if (line.rfind("221", 0) != 0) lines->last = line;
  return 0;
}

}  // namespace

void ServerLines::Attach(CURL* c) {
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, &OnDebug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, this);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
}

namespace {

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

}  // namespace

void AbortWhen(CURL* c, const std::atomic<bool>* flag) {
  if (!flag) return;
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(flag));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

}  // namespace grove::notify
