// LinkTransport (link_transport.h) for wss:// on Windows: WinHTTP's WebSocket client, so TLS is
// SChannel's, checked against the certificates Windows trusts (add a private CA to the machine's
// "Trusted Root Certification Authorities"), through the proxy configured for WinHTTP.
//
// WinHTTP is used synchronously, on two threads of the transport's own: one connects and then
// receives (the receive also answers the master's pings), the other sends. What they produce is
// posted to the io_context. Close() closes the handles, which fails what is pending and ends
// both threads; nothing is delivered after it.
#include "worker/windows/win_util.h"
// (windows.h first)
#include <winhttp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "worker/link_transport.h"
#include "worker/platform.h"

namespace grove {

namespace {

namespace asio = boost::asio;
using windows::Widen;
using windows::WinHttpError;

// Shared by the transport and its threads, so a thread may finish after the transport is gone.
struct State {
  explicit State(asio::io_context& io) : io(io) {}
  asio::io_context& io;
  MasterAddress addr;
  std::mutex mu;
  bool closed = false;
  HINTERNET session = nullptr, connection = nullptr, request = nullptr, socket = nullptr;
  // Reading: messages (or the error that ended the connection) waiting for a Read().
  std::deque<std::pair<std::string, std::string>> inbox;
  LinkTransport::Received pending_read;
  // Writing: one message at a time.
  std::condition_variable cv;
  const std::string* to_send = nullptr;
  bool send_binary = false;  // to_send is a binary message (a log frame)
  LinkTransport::Done send_done;
  bool writer_started = false;

  bool Closed() {
    std::lock_guard<std::mutex> lock(mu);
    return closed;
  }

  void CloseHandles() {
    std::lock_guard<std::mutex> lock(mu);
    closed = true;
    for (HINTERNET* h : {&socket, &request, &connection, &session}) {
      if (*h) ::WinHttpCloseHandle(*h);
      *h = nullptr;
    }
    cv.notify_all();
  }

  // On the io thread.
  void Deliver() {
    while (!closed && pending_read && !inbox.empty()) {
      auto [error, text] = std::move(inbox.front());
      inbox.pop_front();
      auto done = std::move(pending_read);
      pending_read = nullptr;
      done(error, std::move(text));
    }
  }
};

// The connecting thread: TCP, TLS and the upgrade; then it receives until the end.
void ConnectAndReceive(std::shared_ptr<State> st, LinkTransport::Done done) {
  auto fail = [&](const std::string& error) {
    asio::post(st->io, [st, done, error] {
      if (!st->closed) done(error);
    });
  };
  HINTERNET session = ::WinHttpOpen(L"grove-worker/0.1", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                                    WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
  if (!session) return fail(WinHttpError("cannot start WinHTTP", ::GetLastError()));
  ::WinHttpSetTimeouts(session, 10000, 10000, 10000, 0);  // the receive waits for ever
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->closed) {
      ::WinHttpCloseHandle(session);
      return;
    }
    st->session = session;
  }
  std::wstring host = Widen(st->addr.host);
  INTERNET_PORT port = static_cast<INTERNET_PORT>(std::stoi(st->addr.port));
  HINTERNET connection = ::WinHttpConnect(session, host.c_str(), port, 0);
  HINTERNET request =
      connection
          ? ::WinHttpOpenRequest(connection, L"GET", L"/api/v1/worker", nullptr, WINHTTP_NO_REFERER,
                                 WINHTTP_DEFAULT_ACCEPT_TYPES, WINHTTP_FLAG_SECURE)
          : nullptr;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->closed) {
      if (request) ::WinHttpCloseHandle(request);
      if (connection) ::WinHttpCloseHandle(connection);
      return;
    }
    st->connection = connection;
    st->request = request;
  }
  if (!request)
    return fail(
        WinHttpError("cannot connect to " + st->addr.host + ":" + st->addr.port, ::GetLastError()));
  if (!::WinHttpSetOption(request, WINHTTP_OPTION_UPGRADE_TO_WEB_SOCKET, nullptr, 0) ||
      !::WinHttpSendRequest(request, WINHTTP_NO_ADDITIONAL_HEADERS, 0, WINHTTP_NO_REQUEST_DATA, 0,
                            0, 0) ||
      !::WinHttpReceiveResponse(request, nullptr))
    return fail(
        WinHttpError("cannot connect to " + st->addr.host + ":" + st->addr.port, ::GetLastError()));
  DWORD status = 0, size = sizeof status;
  ::WinHttpQueryHeaders(request, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                        WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX);
  if (status != 101)
    return fail("WebSocket handshake failed: HTTP " + std::to_string(status) +
                " (is this the master's address?)");
  HINTERNET socket = ::WinHttpWebSocketCompleteUpgrade(request, 0);
  if (!socket) return fail(WinHttpError("WebSocket handshake failed", ::GetLastError()));
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->closed) {
      ::WinHttpCloseHandle(socket);
      return;
    }
    st->socket = socket;
  }
  asio::post(st->io, [st, done] {
    if (!st->closed) done("");
  });

  std::string message;
  std::vector<char> buf(64 * 1024);
  while (true) {
    DWORD got = 0;
    WINHTTP_WEB_SOCKET_BUFFER_TYPE type;
    DWORD err =
        ::WinHttpWebSocketReceive(socket, buf.data(), static_cast<DWORD>(buf.size()), &got, &type);
    std::string error;
    if (err != NO_ERROR) {
      error = WinHttpError("connection to master lost", err);
    } else if (type == WINHTTP_WEB_SOCKET_CLOSE_BUFFER_TYPE) {
      error = "connection to master lost: closed by the master";
    } else {
      message.append(buf.data(), got);
      if (message.size() > (64u << 20)) error = "connection to master lost: message too large";
      if (error.empty() && type != WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE &&
          type != WINHTTP_WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
        continue;  // a fragment: the rest follows
    }
    std::pair<std::string, std::string> item{error, error.empty() ? std::move(message) : ""};
    message.clear();
    asio::post(st->io, [st, item = std::move(item)]() mutable {
      st->inbox.push_back(std::move(item));
      st->Deliver();
    });
    if (!error.empty() || st->Closed()) return;
  }
}

void SendLoop(std::shared_ptr<State> st) {
  while (true) {
    const std::string* text;
    bool binary;
    LinkTransport::Done done;
    HINTERNET socket;
    {
      std::unique_lock<std::mutex> lock(st->mu);
      st->cv.wait(lock, [&] { return st->closed || st->to_send; });
      if (st->closed) return;
      text = std::exchange(st->to_send, nullptr);
      binary = st->send_binary;
      done = std::move(st->send_done);
      socket = st->socket;
    }
    DWORD err =
        ::WinHttpWebSocketSend(socket,
                               binary ? WINHTTP_WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE
                                      : WINHTTP_WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
                               const_cast<char*>(text->data()), static_cast<DWORD>(text->size()));
    std::string error = err == NO_ERROR ? "" : WinHttpError("write to master failed", err);
    asio::post(st->io, [st, done, error] {
      if (!st->closed) done(error);
    });
  }
}

class WinHttpTransport : public LinkTransport {
 public:
  WinHttpTransport(asio::io_context& io, const MasterAddress& addr)
      : st_(std::make_shared<State>(io)) {
    st_->addr = addr;
  }
  ~WinHttpTransport() override {
    Close();
    if (connector_.joinable()) connector_.join();
    if (sender_.joinable()) sender_.join();
  }

  void Connect(Done done) override {
    connector_ = std::thread(ConnectAndReceive, st_, std::move(done));
  }

  void Read(Received done) override {
    st_->pending_read = std::move(done);
    st_->Deliver();
  }

  void Write(const std::string& data, bool binary, Done done) override {
    if (!sender_.joinable()) sender_ = std::thread(SendLoop, st_);
    std::lock_guard<std::mutex> lock(st_->mu);
    st_->to_send = &data;
    st_->send_binary = binary;
    st_->send_done = std::move(done);
    st_->cv.notify_all();
  }

  void Close() override { st_->CloseHandles(); }

 private:
  std::shared_ptr<State> st_;
  std::thread connector_;
  std::thread sender_;
};

}  // namespace

Status MakeLinkTransport(boost::asio::io_context& io, const MasterAddress& addr,
                         std::unique_ptr<LinkTransport>* out) {
  if (addr.tls) {
    *out = std::make_unique<WinHttpTransport>(io, addr);
  } else {
    *out = MakeBeastTransport(io, addr);
  }
  return Status::Ok();
}

}  // namespace grove
