#include "notify/email_notifier.h"

#include <algorithm>
#include <cstring>

#include "config/notify_check.h"
#include "core/clock.h"
#include "notify/curl_util.h"
#include "notify/mail_message.h"

namespace grove::notify {

namespace {

constexpr const char* kDefaultSubject =
    "[${project.name}] ${build.builder} #${build.number}: ${build.result}";

struct Reader {
  const std::string* data;
  size_t pos = 0;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reader*>(user);
  size_t len = std::min(size * n, r->data->size() - r->pos);
  std::memcpy(buf, r->data->data() + r->pos, len);
  r->pos += len;
  return len;
}

std::string DomainOf(const std::string& from) {
  std::string addr = MailAddressOf(from);
  size_t at = addr.rfind('@');
  return at == std::string::npos ? "grove.invalid" : addr.substr(at + 1);
}

class EmailNotifier : public Notifier {
 public:
  EmailNotifier(EmailNotifierConfig c, const std::atomic<bool>* aborting)
      : c_(std::move(c)), aborting_(aborting) {
    EnsureCurl();
  }

  Outcome Deliver(const Notice& n) override {
    std::vector<std::string> rcpt = c_.to;
    if (c_.send_to_authors)
      for (const std::string& author : n.authors) {
        std::string a = MailAddressOf(author);
        if (!a.empty() && std::find(rcpt.begin(), rcpt.end(), a) == rcpt.end()) rcpt.push_back(a);
      }
    if (rcpt.empty()) return Outcome::Sent("nobody to write to: the build has no change authors");

    MailMessage m;
    m.from = c_.from;
    m.to = rcpt;
    Status st = n.Render(c_.subject.empty() ? kDefaultSubject : c_.subject, &m.subject);
    if (st.ok()) st = n.Text(c_.common.message, &m.text);
    if (!st.ok()) return Outcome::Failed(st.message());
    m.html = TextToHtml(m.subject, m.text);
    m.date_ms = NowMs();
    // The same notice sent again (its first outcome unknown) keeps its Message-ID, so mail
    // readers can tell it is one message.
    m.message_id = "grove.n" + std::to_string(n.record.id) + ".b" + std::to_string(n.build.id) +
                   "." + std::to_string(n.record.created_at) + "@" + DomainOf(c_.from);
    m.extra_headers = {{"X-Grove-Build", std::to_string(n.build.id)},
                       {"X-Grove-Builder", n.build.builder},
                       {"X-Grove-Result", n.result}};
    std::string data = ComposeMail(m);
    return Send(rcpt, data);
  }

 private:
  Outcome Send(const std::vector<std::string>& rcpt, const std::string& data) {
    // One handle per notifier, reset between mails: libcurl keeps its connection, so a burst of
    // notices pays for connect, STARTTLS and AUTH once (only the lane's thread uses it).
    if (!handle_) handle_.reset(curl_easy_init());
    if (!handle_) return Outcome::Retry("cannot start libcurl");
    curl_easy_reset(handle_.get());
    const SmtpConfig& s = c_.smtp;
    int port = s.port ? s.port : s.tls == "implicit" ? 465 : s.tls == "starttls" ? 587 : 25;
    std::string url = std::string(s.tls == "implicit" ? "smtps://" : "smtp://") + s.host + ":" +
                      std::to_string(port);
    CURL* h = handle_.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(c_.common.timeout_ms));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(c_.common.timeout_ms, 10000)));
    if (s.tls == "starttls")
      curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!s.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s.ca_file.c_str());
    if (!s.user.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, s.user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, s.password.c_str());
    }
    std::string from = "<" + MailAddressOf(c_.from) + ">";
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    CurlList list;
    for (const std::string& r : rcpt) Append(list, "<" + r + ">");
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list.get());
    Reader reader{&data};
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &reader);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    ServerLines lines;
    lines.Attach(h);
    AbortWhen(h, aborting_);

    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    // The options point into this frame (error buffer, reader, captured lines); the handle
    // outlives it, and closing its cached connection later (QUIT) must not reach them.
    curl_easy_reset(h);
    std::string what = error[0] ? error : curl_easy_strerror(rc);
    std::string answer =
        lines.answer().empty() ? what : what + " (server said: " + lines.answer() + ")";
    std::string where = "smtp " + s.host + ":" + std::to_string(port);
    if (rc == CURLE_OK) return Outcome::Sent(lines.last.empty() ? "accepted" : lines.last);
    if (rc == CURLE_LOGIN_DENIED) return Outcome::Failed(where + ": login refused: " + answer);
    if (rc == CURLE_USE_SSL_FAILED || rc == CURLE_PEER_FAILED_VERIFICATION)
      return Outcome::Failed(where + ": " + answer);
    // A reply code settles it: 5xx is permanent (a refused recipient), 4xx is "try later".
    if (code >= 500 && code < 600) return Outcome::Failed(where + ": " + answer);
    return Outcome::Retry(where + ": " + answer);
  }

  EmailNotifierConfig c_;
  const std::atomic<bool>* aborting_;
  CurlHandle handle_;
};

}  // namespace

std::unique_ptr<Notifier> MakeEmailNotifier(const EmailNotifierConfig& config,
                                            const NotifierEnv& env) {
  return std::make_unique<EmailNotifier>(config, env.aborting);
}

}  // namespace grove::notify
