// CoalescingStream: the layer between Beast's WebSocket and its TCP stream on the worker that
// gathers the writes of consecutive handlers into one send(2).
//
// Why: every event is a WebSocket message of its own, and Beast writes each with its own send.
// A trivial build's four events came in two bursts (job.started + step.started, then
// step.finished + job.finished), four sends; on loopback a send also costs the sender the
// receiver's TCP processing, and the master wakes once per segment.
//
// How: a write is copied into a buffer and reported done at once (posted, never from inside
// the call); the send is started from a posted handler that waits while the writer keeps
// adding (each of the link's writes starts from the previous one's completion handler), at
// most kMaxRounds rounds or until kSendAt bytes wait. Memory stays bounded: past kMaxBuffered
// bytes not yet sent, a write is reported done only when the send before it has completed.
// A failed send fails every later write and closes the socket, so the pending read fails too
// and the link reconnects (its outbox keeps every event until the master acknowledges it, so
// nothing a dropped buffer held is lost).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>

namespace grove {

class CoalescingStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  static constexpr size_t kSendAt = 64 * 1024;        // sent without waiting for more
  static constexpr size_t kMaxBuffered = 256 * 1024;  // not yet sent: later writes wait
  static constexpr int kMaxRounds = 8;                // handler rounds a send waits at most

  explicit CoalescingStream(next_layer_type::executor_type ex)
      : next_(std::move(ex)), state_(std::make_shared<State>()) {}
  // The handlers still queued see |dead| and return: Beast's own keep a weak reference.
  ~CoalescingStream() { state_->dead = true; }

  CoalescingStream(CoalescingStream&&) = delete;
  CoalescingStream& operator=(CoalescingStream&&) = delete;

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() noexcept { return next_; }
  const next_layer_type& next_layer() const noexcept { return next_; }

  // send(2) calls started so far (for tests and the curious).
  uint64_t sends() const noexcept { return state_->sends; }

  // Reads go straight through.
  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return next_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(boost::system::error_code, size_t)>(
        [this](auto h, const ConstBufferSequence& b) { Initiate(std::move(h), b); }, handler,
        buffers);
  }

 private:
  // A write's completion held back until the buffer has room.
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Complete(const boost::system::error_code& ec) = 0;
  };
  template <class Handler>
  struct WaiterOf final : Waiter {
    WaiterOf(Handler h, size_t n, executor_type ex)
        : handler(std::move(h)), bytes(n), ex(std::move(ex)) {}
    void Complete(const boost::system::error_code& ec) override {
      boost::asio::post(
          ex, boost::beast::bind_front_handler(std::move(handler), ec, ec ? size_t{0} : bytes));
    }
    Handler handler;
    size_t bytes;
    executor_type ex;
  };

  // Shared with the posted flushes and the send under way, which may outlive this object.
  struct State {
    std::string queued;   // written, not yet being sent
    std::string sending;  // being sent
    std::deque<std::unique_ptr<Waiter>> waiters;
    uint64_t appends = 0;
    uint64_t sends = 0;
    bool in_send = false;
    bool flush_posted = false;
    bool dead = false;
    boost::system::error_code failed;
  };

  template <class Handler, class ConstBufferSequence>
  void Initiate(Handler handler, const ConstBufferSequence& buffers) {
    State& s = *state_;
    if (s.failed) {
      boost::asio::post(get_executor(),
                        boost::beast::bind_front_handler(std::move(handler), s.failed, size_t{0}));
      return;
    }
    const size_t n = boost::asio::buffer_size(buffers);
    const size_t at = s.queued.size();
    s.queued.resize(at + n);
    boost::asio::buffer_copy(boost::asio::buffer(s.queued.data() + at, n), buffers);
    ++s.appends;
    if (s.sending.size() + s.queued.size() > kMaxBuffered) {
      s.waiters.push_back(
          std::make_unique<WaiterOf<Handler>>(std::move(handler), n, get_executor()));
    } else {
      boost::asio::post(get_executor(), boost::beast::bind_front_handler(
                                            std::move(handler), boost::system::error_code{}, n));
    }
    if (s.in_send) return;  // its completion sends what was added meanwhile
    if (s.queued.size() >= kSendAt) return StartSend();
    if (!s.flush_posted) PostFlush(0);
  }

  void PostFlush(int round) {
    state_->flush_posted = true;
    boost::asio::post(get_executor(), [this, state = state_, round, seen = state_->appends] {
      if (state->dead) return;
      state->flush_posted = false;
      if (state->in_send || state->queued.empty()) return;
      // The writer added something since: it may add more in the next round.
      if (state->appends != seen && round + 1 < kMaxRounds && state->queued.size() < kSendAt)
        return PostFlush(round + 1);
      StartSend();
    });
  }

  void StartSend() {
    State& s = *state_;
    s.in_send = true;
    ++s.sends;
    s.sending.swap(s.queued);
    s.queued.clear();
    // The waiters whose bytes are in this send complete with it.
    auto done = std::make_shared<std::deque<std::unique_ptr<Waiter>>>(std::move(s.waiters));
    s.waiters.clear();
    boost::asio::async_write(
        next_, boost::asio::buffer(s.sending),
        [this, state = state_, done](const boost::system::error_code& ec, size_t) {
          if (state->dead) return;
          state->in_send = false;
          state->sending.clear();
          if (ec && !state->failed) {
            state->failed = ec;
            boost::system::error_code ignored;
            next_.socket().close(ignored);
          }
          for (auto& w : *done) w->Complete(state->failed);
          if (state->failed) {
            for (auto& w : state->waiters) w->Complete(state->failed);
            state->waiters.clear();
            state->queued.clear();
            return;
          }
          if (!state->queued.empty() && !state->flush_posted) PostFlush(0);
        });
  }

  next_layer_type next_;
  std::shared_ptr<State> state_;
};

// What Beast's WebSocket calls to shut the connection down: the TCP stream's own.
inline void teardown(boost::beast::role_type role, CoalescingStream& stream,
                     boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer().socket(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, CoalescingStream& stream,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer().socket(), std::forward<TeardownHandler>(handler));
}

}  // namespace grove
