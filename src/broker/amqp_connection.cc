#include "broker/amqp_connection.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "broker/amqp_tls.h"
#include "core/log_frame.h"

namespace grove::amqp {

namespace {

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string ReplyError(const amqp_rpc_reply_t& r, const std::string& what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_NONE:
      return what + ": missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return what + ": " + amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return what + ": connection closed by the broker: " +
               std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return what + ": channel closed by the broker: " +
               std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len);
      }
      return what + ": broker error";
  }
  return what + ": unknown error";
}

// The reply code of the broker's connection.close or channel.close in |r| (0: none).
int CloseCode(const amqp_rpc_reply_t& r) {
  if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) return 0;
  if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
    return static_cast<amqp_connection_close_t*>(r.reply.decoded)->reply_code;
  if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
    return static_cast<amqp_channel_close_t*>(r.reply.decoded)->reply_code;
  return 0;
}

// A failed RPC as a Status whose code says whether waiting can help (IsTransient): the broker
// refusing the user, password, vhost or a permission (403 ACCESS_REFUSED, 530 NOT_ALLOWED), or
// an object declared with other arguments than the existing one (406 PRECONDITION_FAILED),
// stays so until someone changes the configuration; anything else (the broker shutting down,
// the connection lost) is worth retrying.
Status ReplyStatus(const amqp_rpc_reply_t& r, const std::string& what) {
  std::string err = ReplyError(r, what);
  if (err.empty()) return Status::Ok();
  switch (CloseCode(r)) {
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
      return Status::Unauthorized(err);
    case AMQP_PRECONDITION_FAILED:
      return Status::Conflict(err);
    default:
      return Status::Unavailable(err);
  }
}

// The integer-valued headers of a message; other clients encode integers in whatever width
// fits (pika: I32 or I64).
Headers IntHeaders(const amqp_basic_properties_t& props) {
  Headers out;
  if (!(props._flags & AMQP_BASIC_HEADERS_FLAG)) return out;
  for (int i = 0; i < props.headers.num_entries; ++i) {
    const amqp_table_entry_t& e = props.headers.entries[i];
    std::string name(static_cast<char*>(e.key.bytes), e.key.len);
    const amqp_field_value_t& v = e.value;
    switch (v.kind) {
      case AMQP_FIELD_KIND_I8:
        out[name] = v.value.i8;
        break;
      case AMQP_FIELD_KIND_U8:
        out[name] = v.value.u8;
        break;
      case AMQP_FIELD_KIND_I16:
        out[name] = v.value.i16;
        break;
      case AMQP_FIELD_KIND_U16:
        out[name] = v.value.u16;
        break;
      case AMQP_FIELD_KIND_I32:
        out[name] = v.value.i32;
        break;
      case AMQP_FIELD_KIND_U32:
        out[name] = v.value.u32;
        break;
      case AMQP_FIELD_KIND_I64:
        out[name] = v.value.i64;
        break;
      default:
        break;
    }
  }
  return out;
}

timeval Tv(int ms) {
  return timeval{ms / 1000, (ms % 1000) * 1000};
}

}  // namespace

struct AmqpConnection::Impl {
  amqp_connection_state_t conn = nullptr;
  bool channel_open = false;
  TlsVerifyLog tls;  // amqps://: the SSL context of |conn| points at it
  ~Impl() {
    if (!conn) return;
    if (channel_open) amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
  }
  Status Check(const std::string& what) { return ReplyStatus(amqp_get_rpc_reply(conn), what); }
};

AmqpConnection::AmqpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AmqpConnection::~AmqpConnection() = default;

Status AmqpConnection::Open(const AmqpUrl& url, int heartbeat_s,
                            std::unique_ptr<AmqpConnection>* out) {
  auto impl = std::make_unique<Impl>();
  impl->conn = amqp_new_connection();
  amqp_socket_t* sock = nullptr;
  if (url.tls) {
    GROVE_RETURN_IF_ERROR(NewTlsSocket(impl->conn, url, &impl->tls, &sock));
  } else {
    sock = amqp_tcp_socket_new(impl->conn);
  }
  if (!sock) return Status::IoError("cannot create a socket for " + url.Redacted());
  timeval tv = Tv(5000);
  errno = 0;
  int rc = amqp_socket_open_noblock(sock, url.host.c_str(), url.port, &tv);
  const int open_errno = errno;
  if (url.tls && IsTlsFailure(rc)) {
    bool config_error = false;
    std::string msg = url.Redacted() +
                      ": TLS handshake failed: " + TlsFailureReason(rc, impl->tls, &config_error);
    return config_error ? Status::Unauthorized(msg) : Status::Unavailable(msg);
  }
  if (rc != AMQP_STATUS_OK) {
    std::string why = amqp_error_string2(rc);
    // rabbitmq-c says only "a socket error occurred"; errno often still says which.
    if (rc == AMQP_STATUS_SOCKET_ERROR && open_errno != 0 && open_errno != EINPROGRESS)
      why = std::strerror(open_errno);
    return Status::Unavailable("cannot connect to " + url.Redacted() + ": " + why);
  }
  amqp_rpc_reply_t r = amqp_login(impl->conn, url.vhost.c_str(), 0, 131072, heartbeat_s,
                                  AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  GROVE_RETURN_IF_ERROR(ReplyStatus(r, "login to " + url.Redacted()));
  amqp_channel_open(impl->conn, 1);
  GROVE_RETURN_IF_ERROR(impl->Check("channel.open"));
  impl->channel_open = true;
  out->reset(new AmqpConnection(std::move(impl)));
  return Status::Ok();
}

Status AmqpConnection::DeclareExchange(const std::string& name, const std::string& type,
                                       bool durable) {
  amqp_exchange_declare(impl_->conn, 1, Bytes(name), Bytes(type), 0, durable, 0, 0,
                        amqp_empty_table);
  return impl_->Check("exchange.declare " + name);
}

Status AmqpConnection::DeclareQueue(const std::string& name, const QueueOptions& opts) {
  amqp_table_entry_t entries[2];
  amqp_table_t args{0, entries};
  if (!opts.dead_letter_exchange.empty()) {
    entries[args.num_entries].key = amqp_cstring_bytes("x-dead-letter-exchange");
    entries[args.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[args.num_entries].value.value.bytes = Bytes(opts.dead_letter_exchange);
    ++args.num_entries;
    if (!opts.dead_letter_routing_key.empty()) {
      entries[args.num_entries].key = amqp_cstring_bytes("x-dead-letter-routing-key");
      entries[args.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[args.num_entries].value.value.bytes = Bytes(opts.dead_letter_routing_key);
      ++args.num_entries;
    }
  }
  amqp_queue_declare(impl_->conn, 1, Bytes(name), 0, opts.durable, 0, 0, args);
  return impl_->Check("queue.declare " + name);
}

Status AmqpConnection::Bind(const std::string& queue, const std::string& exchange,
                            const std::string& key) {
  amqp_queue_bind(impl_->conn, 1, Bytes(queue), Bytes(exchange), Bytes(key), amqp_empty_table);
  return impl_->Check("queue.bind " + queue + " to " + exchange);
}

Status AmqpConnection::EnableConfirms() {
  amqp_confirm_select(impl_->conn, 1);
  return impl_->Check("confirm.select");
}

Status AmqpConnection::Publish(const std::string& exchange, const std::string& key,
                               const std::string& body, const Headers& headers) {
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  // A binary log frame (core/log_frame.h) says so; everything else is JSON.
  props.content_type =
      amqp_cstring_bytes(IsLogFrame(body) ? kLogFrameContentType : "application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  std::vector<amqp_table_entry_t> entries;
  for (const auto& [name, value] : headers) {
    amqp_table_entry_t e;
    e.key = Bytes(name);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    entries.push_back(e);
  }
  if (!entries.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = static_cast<int>(entries.size());
    props.headers.entries = entries.data();
  }
  int rc =
      amqp_basic_publish(impl_->conn, 1, Bytes(exchange), Bytes(key), 0, 0, &props, Bytes(body));
  if (rc != AMQP_STATUS_OK)
    return Status::Unavailable("publish to " + exchange + ": " + amqp_error_string2(rc));
  ++published_;
  return Status::Ok();
}

Status AmqpConnection::WaitConfirms(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool nacked = false;
  while (confirmed_ < published_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return Status::Unavailable("publisher confirms did not arrive in time");
    amqp_frame_t frame;
    timeval tv = Tv(static_cast<int>(left));
    amqp_maybe_release_buffers(impl_->conn);
    int rc = amqp_simple_wait_frame_noblock(impl_->conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK)
      return Status::Unavailable(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    uint64_t tag = 0;
    bool multiple = false;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      tag = m->delivery_tag;
      multiple = m->multiple;
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      tag = m->delivery_tag;
      multiple = m->multiple;
      nacked = true;
    } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
               frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      return Status::Unavailable("the broker closed the channel while confirming");
    } else {
      continue;
    }
    // Confirms are counted: with |multiple| every tag up to |tag| is settled.
    confirmed_ = multiple ? std::max(confirmed_, tag) : std::max(confirmed_, tag);
  }
  if (nacked) return Status::Unavailable("the broker refused (nacked) a published message");
  return Status::Ok();
}

Status AmqpConnection::PollConfirms(int timeout_ms, std::vector<Confirm>* out) {
  for (int wait_ms = timeout_ms;; wait_ms = 0) {
    amqp_frame_t frame;
    timeval tv = Tv(wait_ms);
    amqp_maybe_release_buffers(impl_->conn);
    int rc = amqp_simple_wait_frame_noblock(impl_->conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return Status::Ok();
    if (rc != AMQP_STATUS_OK)
      return Status::Unavailable(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    Confirm c;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      c = {m->delivery_tag, m->multiple != 0, true};
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      c = {m->delivery_tag, m->multiple != 0, false};
    } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
               frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      return Status::Unavailable("the broker closed the channel while confirming");
    } else {
      continue;
    }
    confirmed_ = std::max(confirmed_, c.tag);
    out->push_back(c);
  }
}

Status AmqpConnection::Consume(const std::string& queue, int prefetch) {
  if (prefetch > 0) {
    amqp_basic_qos(impl_->conn, 1, 0, static_cast<uint16_t>(prefetch), 0);
    GROVE_RETURN_IF_ERROR(impl_->Check("basic.qos"));
  }
  amqp_basic_consume_ok_t* ok =
      amqp_basic_consume(impl_->conn, 1, Bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  GROVE_RETURN_IF_ERROR(impl_->Check("basic.consume " + queue));
  if (ok)
    consumer_tags_.emplace_back(static_cast<char*>(ok->consumer_tag.bytes), ok->consumer_tag.len);
  return Status::Ok();
}

Status AmqpConnection::CancelConsumers() {
  for (const auto& tag : consumer_tags_) {
    amqp_basic_cancel(impl_->conn, 1, Bytes(tag));
    GROVE_RETURN_IF_ERROR(impl_->Check("basic.cancel"));
  }
  consumer_tags_.clear();
  return Status::Ok();
}

Status AmqpConnection::SharedPrefetch(int prefetch) {
  amqp_basic_qos(impl_->conn, 1, 0, static_cast<uint16_t>(std::max(1, prefetch)), 1);
  return impl_->Check("basic.qos (global)");
}

Status AmqpConnection::Next(int timeout_ms, Delivery* out, bool* got) {
  *got = false;
  amqp_maybe_release_buffers(impl_->conn);
  amqp_envelope_t env;
  timeval tv = Tv(timeout_ms);
  amqp_rpc_reply_t r = amqp_consume_message(impl_->conn, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
    return Status::Ok();
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A method frame that is not a delivery: a close means the connection is gone.
      amqp_frame_t frame;
      if (amqp_simple_wait_frame_noblock(impl_->conn, &frame, &tv) == AMQP_STATUS_OK &&
          frame.frame_type == AMQP_FRAME_METHOD &&
          (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD))
        return Status::Unavailable("the broker closed the consumer");
      return Status::Ok();
    }
    return Status::Unavailable(ReplyError(r, "consume"));
  }
  out->tag = env.delivery_tag;
  ledger_.Delivered(env.delivery_tag);
  out->redelivered = env.redelivered;
  out->exchange.assign(static_cast<char*>(env.exchange.bytes), env.exchange.len);
  out->routing_key.assign(static_cast<char*>(env.routing_key.bytes), env.routing_key.len);
  out->body.assign(static_cast<char*>(env.message.body.bytes), env.message.body.len);
  out->headers = IntHeaders(env.message.properties);
  amqp_destroy_envelope(&env);
  *got = true;
  return Status::Ok();
}

int AmqpConnection::fd() const {
  return amqp_get_sockfd(impl_->conn);
}

bool AmqpConnection::HasBuffered() const {
  return amqp_frames_enqueued(impl_->conn) || amqp_data_in_buffer(impl_->conn);
}

Status AmqpConnection::Ack(uint64_t tag) {
  ledger_.Settled(tag);
  int rc = amqp_basic_ack(impl_->conn, 1, tag, 0);
  if (rc != AMQP_STATUS_OK)
    return Status::Unavailable(std::string("ack: ") + amqp_error_string2(rc));
  return Status::Ok();
}

Status AmqpConnection::FlushAcks() {
  DeliveryLedger::Acks acks = ledger_.TakeAcks();
  if (acks.multiple_upto) {
    int rc = amqp_basic_ack(impl_->conn, 1, acks.multiple_upto, 1);
    if (rc != AMQP_STATUS_OK)
      return Status::Unavailable(std::string("ack: ") + amqp_error_string2(rc));
  }
  for (uint64_t tag : acks.singles) {
    int rc = amqp_basic_ack(impl_->conn, 1, tag, 0);
    if (rc != AMQP_STATUS_OK)
      return Status::Unavailable(std::string("ack: ") + amqp_error_string2(rc));
  }
  return Status::Ok();
}

Status AmqpConnection::Reject(uint64_t tag, bool requeue) {
  ledger_.Settled(tag);
  int rc = amqp_basic_reject(impl_->conn, 1, tag, requeue);
  if (rc != AMQP_STATUS_OK)
    return Status::Unavailable(std::string("reject: ") + amqp_error_string2(rc));
  return Status::Ok();
}

Status AmqpConnection::Peek(const std::string& queue, int limit, std::vector<Delivery>* out) {
  for (int i = 0; i < limit; ++i) {
    amqp_maybe_release_buffers(impl_->conn);
    amqp_rpc_reply_t r = amqp_basic_get(impl_->conn, 1, Bytes(queue), 0);
    if (std::string err = ReplyError(r, "basic.get " + queue); !err.empty())
      return Status::Unavailable(err);
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // get-empty
    auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
    Delivery d;
    d.tag = ok->delivery_tag;
    ledger_.Delivered(ok->delivery_tag);
    d.redelivered = ok->redelivered;
    d.exchange.assign(static_cast<char*>(ok->exchange.bytes), ok->exchange.len);
    d.routing_key.assign(static_cast<char*>(ok->routing_key.bytes), ok->routing_key.len);
    amqp_message_t msg;
    r = amqp_read_message(impl_->conn, 1, &msg, 0);
    if (std::string err = ReplyError(r, "read message"); !err.empty())
      return Status::Unavailable(err);
    d.body.assign(static_cast<char*>(msg.body.bytes), msg.body.len);
    d.headers = IntHeaders(msg.properties);
    amqp_destroy_message(&msg);
    out->push_back(std::move(d));
  }
  return Status::Ok();
}

Status AmqpConnection::QueueDepth(const std::string& queue, uint32_t* ready) {
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(impl_->conn, 1, Bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  GROVE_RETURN_IF_ERROR(impl_->Check("queue.declare (passive) " + queue));
  *ready = ok ? ok->message_count : 0;
  return Status::Ok();
}

}  // namespace grove::amqp
