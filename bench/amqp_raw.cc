// The raw broker limit for bench/consumer_jobs.py: one rabbitmq-c publisher and one consumer on
// one durable queue, with what Grove's job path pays for — persistent messages, publisher
// confirms (a window of unconfirmed messages, like Grove's batched confirms) and a manual ack
// per message. Prints msgs/s from the first publish to the last ack.
//
//   amqp_raw --url amqp://guest:guest@127.0.0.1:5672/%2f [--messages 50000] [--window 200]
//            [--prefetch 200] [--size 200] [--prefill 1]
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

const char kQueue[] = "grove.bench.raw";

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

void Check(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(std::string(what) + " failed");
}

// One connection with channel 1 open; closed by the destructor.
class Conn {
 public:
  explicit Conn(const std::string& url) : conn_(amqp_new_connection()) {
    std::vector<char> buf(url.begin(), url.end());
    buf.push_back('\0');
    amqp_connection_info info;
    if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) throw std::runtime_error("bad URL");
    amqp_socket_t* sock = amqp_tcp_socket_new(conn_);
    if (!sock || amqp_socket_open(sock, info.host, info.port) != AMQP_STATUS_OK)
      throw std::runtime_error("cannot connect");
    Check(amqp_login(conn_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                     info.password),
          "login");
    amqp_channel_open(conn_, 1);
    Check(amqp_get_rpc_reply(conn_), "channel.open");
  }
  ~Conn() {
    amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  amqp_connection_state_t get() const { return conn_; }

 private:
  amqp_connection_state_t conn_;
};

struct Options {
  std::string url = "amqp://guest:guest@127.0.0.1:5672/%2f";
  long messages = 50000;
  long window = 200;
  int prefetch = 200;
  size_t size = 200;
  bool prefill = false;  // publish everything first, then consume (a backlog on disk)
};

void Publish(const Options& o) {
  Conn c(o.url);
  amqp_confirm_select(c.get(), 1);
  Check(amqp_get_rpc_reply(c.get()), "confirm.select");
  std::string body(o.size, 'x');
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.content_type = amqp_cstring_bytes("application/json");
  uint64_t published = 0, confirmed = 0;
  while (confirmed < static_cast<uint64_t>(o.messages)) {
    while (published < static_cast<uint64_t>(o.messages) &&
           published - confirmed < static_cast<uint64_t>(o.window)) {
      if (amqp_basic_publish(c.get(), 1, amqp_empty_bytes, amqp_cstring_bytes(kQueue), 0, 0, &props,
                             Bytes(body)) != AMQP_STATUS_OK)
        throw std::runtime_error("publish failed");
      ++published;
    }
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(c.get(), &frame) != AMQP_STATUS_OK)
      throw std::runtime_error("waiting for confirms failed");
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed = std::max<uint64_t>(confirmed, m->delivery_tag);
    }
    amqp_maybe_release_buffers(c.get());
  }
}

void Consume(const Options& o, std::atomic<long>* done) {
  Conn c(o.url);
  amqp_basic_qos(c.get(), 1, 0, static_cast<uint16_t>(o.prefetch), 0);
  Check(amqp_get_rpc_reply(c.get()), "basic.qos");
  amqp_basic_consume(c.get(), 1, amqp_cstring_bytes(kQueue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  Check(amqp_get_rpc_reply(c.get()), "basic.consume");
  while (*done < o.messages) {
    amqp_envelope_t env;
    amqp_maybe_release_buffers(c.get());
    Check(amqp_consume_message(c.get(), &env, nullptr, 0), "consume");
    amqp_basic_ack(c.get(), 1, env.delivery_tag, 0);
    amqp_destroy_envelope(&env);
    ++*done;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--url") {
      o.url = argv[i + 1];
    } else if (flag == "--messages") {
      o.messages = std::atol(argv[i + 1]);
    } else if (flag == "--window") {
      o.window = std::atol(argv[i + 1]);
    } else if (flag == "--prefetch") {
      o.prefetch = std::atoi(argv[i + 1]);
    } else if (flag == "--prefill") {
      o.prefill = std::string(argv[i + 1]) == "1";
    } else if (flag == "--size") {
      o.size = static_cast<size_t>(std::atol(argv[i + 1]));
    } else {
      std::fprintf(stderr, "amqp_raw: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  try {
    {
      Conn setup(o.url);
      amqp_queue_declare(setup.get(), 1, amqp_cstring_bytes(kQueue), 0, 1, 0, 0, amqp_empty_table);
      Check(amqp_get_rpc_reply(setup.get()), "queue.declare");
      amqp_queue_purge(setup.get(), 1, amqp_cstring_bytes(kQueue));
      Check(amqp_get_rpc_reply(setup.get()), "queue.purge");
    }
    std::atomic<long> done{0};
    auto t0 = std::chrono::steady_clock::now();
    if (o.prefill) Publish(o);
    std::thread consumer([&] { Consume(o, &done); });
    if (!o.prefill) Publish(o);
    consumer.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "raw broker: %ld persistent messages of %zu bytes, confirmed (window %ld), acked one by "
        "one (prefetch %d)%s: %.2f s, %.0f msgs/s\n",
        o.messages, o.size, o.window, o.prefetch, o.prefill ? ", queue filled first" : "", s,
        o.messages / s);
    Conn cleanup(o.url);
    amqp_queue_delete(cleanup.get(), 1, amqp_cstring_bytes(kQueue), 0, 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "amqp_raw: %s\n", e.what());
    return 1;
  }
  return 0;
}
