#include "notify/irc_notifier.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <future>
#include <set>

#include "core/log.h"

namespace grove::notify {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

bool ParseIrcLine(const std::string& raw, IrcLine* out) {
  IrcLine l;
  std::string s = raw;
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.pop_back();
  size_t i = 0;
  if (!s.empty() && s[0] == ':') {
    size_t sp = s.find(' ');
    if (sp == std::string::npos) return false;
    l.prefix = s.substr(1, sp - 1);
    i = sp + 1;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  size_t sp = s.find(' ', i);
  l.command = s.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
  if (l.command.empty()) return false;
  i = sp == std::string::npos ? s.size() : sp + 1;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) break;
    if (s[i] == ':') {
      l.params.push_back(s.substr(i + 1));
      break;
    }
    sp = s.find(' ', i);
    l.params.push_back(s.substr(i, sp == std::string::npos ? std::string::npos : sp - i));
    i = sp == std::string::npos ? s.size() : sp + 1;
  }
  *out = std::move(l);
  return true;
}

namespace {

constexpr int kBurst = 5;
constexpr auto kLineInterval = std::chrono::milliseconds(700);
constexpr size_t kMaxQueued = 500;
constexpr size_t kMaxIrcLineBytes = 400;
constexpr int64_t kMaxBackoffMs = 60000;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// Nothing a build wrote may end an IRC line early or start a new command.
std::string Clean(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  if (s.size() > kMaxIrcLineBytes) {
    s.resize(kMaxIrcLineBytes);
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
  }
  return s;
}

struct BotSettings {
  std::vector<std::string> channels;
  std::vector<std::string> allow_force;
  std::vector<std::string> builders;
  std::string web_base;
  bool notice = false;
};

class IrcBot : public std::enable_shared_from_this<IrcBot> {
 public:
  IrcBot(IrcNotifierConfig c, BotSettings s, BuildControl* control)
      : c_(std::move(c)),
        s_(std::move(s)),
        control_(control),
        ssl_ctx_(ssl::context::tls_client),
        resolver_(io_),
        reconnect_(io_),
        send_timer_(io_),
        work_(asio::make_work_guard(io_)) {
    ssl_ctx_.set_verify_mode(ssl::verify_peer);
    if (!c_.ca_file.empty())
      ssl_ctx_.load_verify_file(c_.ca_file);
    else
      ssl_ctx_.set_default_verify_paths();
    port_ = c_.port ? c_.port : (c_.tls ? 6697 : 6667);
  }

  void Start() {
    auto self = shared_from_this();
    asio::post(io_, [self] { self->Connect(); });
    thread_ = std::thread([self] { self->io_.run(); });
  }

  void Stop() {
    auto self = shared_from_this();
    std::lock_guard lock(post_mu_);
    if (!accepting_) return;
    accepting_ = false;
    asio::post(io_, [self] {
      self->stopping_ = true;
      self->Close("the master is stopping");
      self->reconnect_.cancel();
      self->send_timer_.cancel();
      self->resolver_.cancel();
      self->work_.reset();
    });
    if (thread_.joinable()) thread_.join();
  }

  void Update(BotSettings s) {
    std::lock_guard lock(post_mu_);
    if (!accepting_) return;
    auto self = shared_from_this();
    asio::post(io_, [self, s = std::move(s)] {
      std::vector<std::string> old = self->s_.channels;
      self->s_ = s;
      if (!self->registered_) return;
      for (const std::string& ch : s.channels)
        if (std::find(old.begin(), old.end(), ch) == old.end()) self->Urgent("JOIN " + ch);
      for (const std::string& ch : old)
        if (std::find(s.channels.begin(), s.channels.end(), ch) == s.channels.end()) {
          self->Urgent("PART " + ch + " :no longer configured");
          self->joined_.erase(Lower(ch));
        }
    });
  }

  // Says |lines| in every joined channel; |done| once written (or not).
  void Announce(std::vector<std::string> lines, std::function<void(Outcome)> done) {
    auto self = shared_from_this();
    // Once Stop has posted its handler, nothing posted after it would run.
    std::lock_guard lock(post_mu_);
    if (!accepting_) return done(Outcome::Retry("the IRC bot is stopping"));
    asio::post(io_, [self, lines = std::move(lines), done = std::move(done)] {
      if (self->stopping_) return done(Outcome::Retry("the IRC bot is stopping"));
      if (!self->registered_)
        return done(Outcome::Retry("not connected to IRC server " + self->c_.server + ":" +
                                   std::to_string(self->port_) + self->last_error_));
      std::vector<std::string> targets;
      for (const std::string& ch : self->s_.channels)
        if (self->joined_.count(Lower(ch))) targets.push_back(ch);
      if (targets.empty())
        return done(Outcome::Retry("connected to " + self->c_.server +
                                   " but not in any of its channels yet"));
      struct Pending {
        size_t left;
        bool failed = false;
        std::function<void(Outcome)> done;
      };
      auto p = std::make_shared<Pending>(Pending{targets.size() * lines.size(), false, done});
      std::string where;
      for (const std::string& t : targets) where += (where.empty() ? "" : ", ") + t;
      const char* verb = self->s_.notice ? "NOTICE " : "PRIVMSG ";
      for (const std::string& t : targets)
        for (const std::string& line : lines)
          self->Say(verb + t + " :" + line, [p, where](bool ok) {
            if (p->failed) return;
            if (!ok) {
              p->failed = true;
              return p->done(
                  Outcome::Retry("the IRC connection closed before the message went out"));
            }
            if (--p->left == 0) p->done(Outcome::Sent("said in " + where));
          });
    });
  }

 private:
  struct Out {
    std::string line;
    std::function<void(bool)> written;
  };

  void Connect() {
    if (stopping_) return;
    ++generation_;
    auto self = shared_from_this();
    uint64_t gen = generation_;
    stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, ssl_ctx_);
    resolver_.async_resolve(
        c_.server, std::to_string(port_),
        [self, gen](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          if (gen != self->generation_ || self->stopping_) return;
          if (ec) return self->Fail("cannot resolve " + self->c_.server + ": " + ec.message());
          asio::async_connect(
              self->stream_->next_layer(), results,
              [self, gen](const boost::system::error_code& ec, const tcp::endpoint&) {
                if (gen != self->generation_ || self->stopping_) return;
                if (ec) return self->Fail(ec.message());
                if (!self->c_.tls) return self->Connected();
                SSL_set_tlsext_host_name(self->stream_->native_handle(), self->c_.server.c_str());
                self->stream_->set_verify_callback(ssl::host_name_verification(self->c_.server));
                self->stream_->async_handshake(ssl::stream_base::client,
                                               [self, gen](const boost::system::error_code& ec) {
                                                 if (gen != self->generation_ || self->stopping_)
                                                   return;
                                                 if (ec) return self->Fail("TLS: " + ec.message());
                                                 self->Connected();
                                               });
              });
        });
  }

  void Connected() {
    connected_ = true;
    nick_ = c_.nick;
    if (!c_.password.empty()) Urgent("PASS " + c_.password);
    Urgent("NICK " + nick_);
    Urgent("USER " + c_.nick + " 0 * :Grove build notifier");
    Read();
  }

  void Read() {
    auto self = shared_from_this();
    uint64_t gen = generation_;
    auto handler = [self, gen](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation_ || self->stopping_) return;
      if (ec)
        return self->Fail(ec == asio::error::eof ? "the server closed the connection"
                                                 : ec.message());
      std::istream in(&self->in_);
      std::string line;
      std::getline(in, line);
      IrcLine l;
      if (ParseIrcLine(line, &l)) self->Handle(l);
      if (gen == self->generation_) self->Read();
    };
    if (c_.tls)
      asio::async_read_until(*stream_, in_, "\r\n", handler);
    else
      asio::async_read_until(stream_->next_layer(), in_, "\r\n", handler);
  }

  void Handle(const IrcLine& l) {
    if (l.command == "PING") {
      Urgent("PONG :" + (l.params.empty() ? std::string() : l.params.back()));
    } else if (l.command == "001") {
      registered_ = true;
      backoff_ms_ = 0;
      last_error_.clear();
      if (!l.params.empty()) nick_ = l.params[0];
      spdlog::info("notify irc {}: registered on {}:{} as {}", c_.common.name, c_.server, port_,
                   nick_);
      for (const std::string& ch : s_.channels) Urgent("JOIN " + ch);
    } else if (l.command == "433" || l.command == "436") {  // nick in use
      nick_ += "_";
      Urgent("NICK " + nick_);
    } else if (l.command == "JOIN" && l.Nick() == nick_ && !l.params.empty()) {
      joined_.insert(Lower(l.params[0]));
      spdlog::info("notify irc {}: joined {}", c_.common.name, l.params[0]);
    } else if ((l.command == "KICK" && l.params.size() >= 2 && l.params[1] == nick_) ||
               (l.command == "PART" && l.Nick() == nick_ && !l.params.empty())) {
      std::string ch = l.params[0];
      joined_.erase(Lower(ch));
      if (std::find(s_.channels.begin(), s_.channels.end(), ch) != s_.channels.end() &&
          l.command == "KICK")
        Urgent("JOIN " + ch);
    } else if (l.command == "PRIVMSG" && l.params.size() >= 2) {
      Command(l.Nick(), l.params[0], l.params[1]);
    } else if (l.command == "ERROR") {
      last_error_ = ": " + (l.params.empty() ? std::string("ERROR") : l.params.back());
    }
  }

  void Command(const std::string& from, const std::string& target, std::string text) {
    const bool channel = !target.empty() && (target[0] == '#' || target[0] == '&');
    const std::string reply_to = channel ? target : from;
    if (channel) {
      std::string lower = Lower(text), me = Lower(nick_);
      if (lower.rfind(me + ":", 0) == 0 || lower.rfind(me + ",", 0) == 0)
        text = text.substr(me.size() + 1);
      else if (!text.empty() && text[0] == '!')
        text = text.substr(1);
      else
        return;  // talk among people
    }
    std::vector<std::string> words;
    for (size_t i = 0; i < text.size();) {
      while (i < text.size() && text[i] == ' ') ++i;
      size_t end = text.find(' ', i);
      if (i < text.size())
        words.push_back(text.substr(i, end == std::string::npos ? end : end - i));
      i = end == std::string::npos ? text.size() : end;
    }
    if (words.empty()) return;
    const std::string cmd = Lower(words[0]);
    auto reply = [self = shared_from_this(), reply_to, from, channel](const std::string& msg) {
      asio::post(self->io_, [self, reply_to, from, channel, msg] {
        self->Say("PRIVMSG " + reply_to + " :" + Clean((channel ? from + ": " : "") + msg),
                  nullptr);
      });
    };
    auto known = [this](const std::string& b) {
      return std::find(s_.builders.begin(), s_.builders.end(), b) != s_.builders.end();
    };
    if (cmd == "help") {
      reply("commands: status · last BUILDER · force BUILDER [reason] · help");
    } else if (cmd == "status") {
      if (!control_) return reply("status is not available");
      control_->DescribeQueue([reply](Status st, Json j) {
        if (!st.ok()) return reply("status is not available: " + st.message());
        reply(std::to_string(j.value("queued_count", 0)) + " queued, " +
              std::to_string(j.value("running_count", 0)) + " running, " +
              std::to_string(j.value("workers_connected", 0)) + " workers connected");
      });
    } else if (cmd == "last") {
      if (words.size() < 2) return reply("usage: last BUILDER");
      const std::string b = words[1];
      if (!known(b)) return reply("no such builder: " + b);
      if (!control_) return reply("last is not available");
      std::string base = s_.web_base;
      control_->LastBuild(b, [reply, b, base](Status st, Json j) {
        if (!st.ok()) return reply("cannot read the builds of " + b + ": " + st.message());
        if (!j.is_object()) return reply(b + " has no builds yet");
        std::string state = j.value("state", "");
        std::string result = j["result"].is_string() ? j["result"].get<std::string>() : state;
        reply(b + " #" + std::to_string(j.value("number", int64_t{0})) + ": " + result + " " +
              base + "/ui/builds/" + std::to_string(j.value("id", int64_t{0})));
      });
    } else if (cmd == "force") {
      if (words.size() < 2) return reply("usage: force BUILDER [reason]");
      if (std::find(s_.allow_force.begin(), s_.allow_force.end(), from) == s_.allow_force.end()) {
        spdlog::warn("notify irc {}: refused 'force' from {}", c_.common.name, from);
        return reply("sorry, " + from + " may not force builds");
      }
      const std::string b = words[1];
      if (!known(b)) return reply("no such builder: " + b);
      if (!control_) return reply("force is not available");
      std::string reason;
      for (size_t i = 2; i < words.size(); ++i) reason += (reason.empty() ? "" : " ") + words[i];
      reason = reason.empty() ? "forced by " + from + " on IRC" : reason + " (" + from + " on IRC)";
      spdlog::info("notify irc {}: {} forces {}", c_.common.name, from, b);
      control_->Force(b, reason, [reply, b](Status st, int64_t id) {
        if (!st.ok()) return reply("cannot force " + b + ": " + st.message());
        reply("build of " + b + " queued (request " + std::to_string(id) + ")");
      });
    } else {
      reply("unknown command '" + Clean(words[0]) + "'; try help");
    }
  }

  // Registration lines and PONGs: ahead of the rate-limited queue.
  void Urgent(std::string line) {
    urgent_.push_back({std::move(line), nullptr});
    Pump();
  }

  void Say(std::string line, std::function<void(bool)> written) {
    if (out_.size() >= kMaxQueued) {
      spdlog::warn("notify irc {}: output queue full, dropping the oldest line", c_.common.name);
      if (out_.front().written) out_.front().written(false);
      out_.pop_front();
    }
    out_.push_back({Clean(std::move(line)), std::move(written)});
    Pump();
  }

  void Pump() {
    if (writing_ || !connected_ || stopping_) return;
    Out next;
    if (!urgent_.empty()) {
      next = std::move(urgent_.front());
      urgent_.pop_front();
    } else if (!out_.empty() && registered_) {
      auto now = std::chrono::steady_clock::now();
      tokens_ = std::min<double>(
          kBurst, tokens_ + std::chrono::duration<double>(now - refilled_) / kLineInterval);
      refilled_ = now;
      if (tokens_ < 1) {
        auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>((1 - tokens_) * kLineInterval) +
            std::chrono::milliseconds(1);
        send_timer_.expires_after(wait);
        auto self = shared_from_this();
        send_timer_.async_wait([self](const boost::system::error_code& ec) {
          if (!ec) self->Pump();
        });
        return;
      }
      tokens_ -= 1;
      next = std::move(out_.front());
      out_.pop_front();
    } else {
      return;
    }
    writing_ = true;
    auto line = std::make_shared<std::string>(next.line + "\r\n");
    auto written = std::move(next.written);
    auto self = shared_from_this();
    uint64_t gen = generation_;
    auto handler = [self, gen, line, written](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation_) {
        if (written) written(false);
        return;
      }
      self->writing_ = false;
      if (written) written(!ec);
      if (ec) return self->Fail(ec.message());
      self->Pump();
    };
    if (c_.tls)
      asio::async_write(*stream_, asio::buffer(*line), handler);
    else
      asio::async_write(stream_->next_layer(), asio::buffer(*line), handler);
  }

  void Close(const std::string& why) {
    ++generation_;
    boost::system::error_code ignored;
    if (stream_) stream_->next_layer().close(ignored);
    connected_ = registered_ = writing_ = false;
    joined_.clear();
    urgent_.clear();
    in_.consume(in_.size());
    std::deque<Out> out;
    out.swap(out_);
    for (auto& o : out)
      if (o.written) o.written(false);
    (void)why;
  }

  void Fail(const std::string& why) {
    if (stopping_) return;
    bool was = registered_;
    last_error_ = " (" + why + ")";
    Close(why);
    backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxBackoffMs) : 1000;
    if (was)
      spdlog::warn("notify irc {}: lost {}:{} ({}); reconnecting in {} s", c_.common.name,
                   c_.server, port_, why, backoff_ms_ / 1000);
    else
      spdlog::warn("notify irc {}: cannot connect to {}:{} ({}); trying again in {} s",
                   c_.common.name, c_.server, port_, why, backoff_ms_ / 1000);
    reconnect_.expires_after(std::chrono::milliseconds(backoff_ms_));
    auto self = shared_from_this();
    reconnect_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Connect();
    });
  }

  IrcNotifierConfig c_;
  BotSettings s_;
  BuildControl* control_;
  int port_ = 6667;
  asio::io_context io_;
  ssl::context ssl_ctx_;
  tcp::resolver resolver_;
  asio::steady_timer reconnect_;
  asio::steady_timer send_timer_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<ssl::stream<tcp::socket>> stream_;
  asio::streambuf in_;
  std::thread thread_;
  std::mutex post_mu_;
  bool accepting_ = true;
  uint64_t generation_ = 0;  // of the connection; handlers of an older one do nothing
  bool stopping_ = false, connected_ = false, registered_ = false, writing_ = false;
  std::string nick_;
  std::set<std::string> joined_;  // lower-cased
  std::deque<Out> urgent_, out_;
  double tokens_ = kBurst;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  int64_t backoff_ms_ = 0;
  std::string last_error_;
};

BotSettings SettingsOf(const IrcNotifierConfig& c, const Config& whole) {
  BotSettings s;
  s.channels = c.channels;
  s.allow_force = c.allow_force;
  s.notice = c.notice;
  for (const BuilderConfig& b : whole.builders) s.builders.push_back(b.name);
  std::string base = whole.project_url.empty() ? "http://" + whole.web.listen : whole.project_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  s.web_base = base;
  return s;
}

bool SameConnection(const IrcNotifierConfig& a, const IrcNotifierConfig& b) {
  return a.server == b.server && a.port == b.port && a.tls == b.tls && a.ca_file == b.ca_file &&
         a.nick == b.nick && a.password == b.password;
}

class IrcNotifier : public Notifier {
 public:
  IrcNotifier(const IrcNotifierConfig& c, const Config& whole, BuildControl* control)
      : c_(c), bot_(std::make_shared<IrcBot>(c, SettingsOf(c, whole), control)) {
    bot_->Start();
  }
  ~IrcNotifier() override { Stop(); }

  Outcome Deliver(const Notice& n) override {
    std::vector<std::string> lines;
    IrcNotifierConfig c;
    {
      std::lock_guard lock(mu_);
      c = c_;
    }
    if (c.common.message.empty()) {
      std::string detail = n.failing_step.empty() ? "" : " (step '" + n.failing_step + "')";
      lines.push_back(n.Mask(n.Summary() + detail + " " + n.url));
    } else {
      std::string text;
      Status st = n.Render(c.common.message, &text);
      if (!st.ok()) return Outcome::Failed(st.message());
      size_t start = 0;
      while (start < text.size() && lines.size() < 5) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.find_first_not_of(" \t\r") != std::string::npos)
          lines.push_back(line);
        start = end + 1;
      }
      if (lines.empty()) return Outcome::Sent("the message is empty: nothing said");
    }
    std::promise<Outcome> promise;
    auto future = promise.get_future();
    auto shared = std::make_shared<std::promise<Outcome>>(std::move(promise));
    bot_->Announce(std::move(lines), [shared](Outcome o) { shared->set_value(std::move(o)); });
    // The bot answers once the lines are written or the connection is gone: both come soon
    // (the rate limit allows a line every 700 ms).
    return future.get();
  }

  bool Update(const Config& whole) override {
    for (const IrcNotifierConfig& c : whole.notify.irc) {
      if (c.common.name != c_.common.name) continue;
      if (!SameConnection(c, c_)) return false;
      {
        std::lock_guard lock(mu_);
        c_ = c;
      }
      bot_->Update(SettingsOf(c, whole));
      return true;
    }
    return false;
  }

  void Stop() override {
    std::call_once(stopped_, [this] { bot_->Stop(); });
  }

 private:
  std::mutex mu_;
  IrcNotifierConfig c_;
  std::shared_ptr<IrcBot> bot_;
  std::once_flag stopped_;
};

}  // namespace

std::unique_ptr<Notifier> MakeIrcNotifier(const IrcNotifierConfig& config, const Config& whole,
                                          const NotifierEnv& env) {
  return std::make_unique<IrcNotifier>(config, whole, env.control);
}

}  // namespace grove::notify
