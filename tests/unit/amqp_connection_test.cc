// AmqpConnection against a real RabbitMQ node: GROVE_TEST_AMQP_URL (scripts/test.sh starts a
// private node and sets it). Without it the tests are skipped, saying why.
#include "broker/amqp_connection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "broker/amqp_publisher.h"
#include "broker/delivery_ledger.h"

namespace grove::amqp {
namespace {

class AmqpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("GROVE_TEST_AMQP_URL");
    if (!url || !*url) GTEST_SKIP() << "GROVE_TEST_AMQP_URL is unset (scripts/test.sh sets it)";
    ASSERT_TRUE(AmqpUrl::Parse(url, &url_).ok());
    prefix_ = "grove-unit-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::unique_ptr<AmqpConnection> Connect() {
    std::unique_ptr<AmqpConnection> c;
    Status st = AmqpConnection::Open(url_, 10, &c);
    EXPECT_TRUE(st.ok()) << st.message();
    return c;
  }
  AmqpUrl url_;
  std::string prefix_;
};

TEST(AmqpUrlTest, ParsesAndRedacts) {
  AmqpUrl u;
  ASSERT_TRUE(AmqpUrl::Parse("amqp://grove:s3cret@mq.example:5673/grove", &u).ok());
  EXPECT_EQ(u.host, "mq.example");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.user, "grove");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.vhost, "grove");
  EXPECT_EQ(u.Redacted().find("s3cret"), std::string::npos);
  ASSERT_TRUE(AmqpUrl::Parse("amqp://g:p@h:1/%2f", &u).ok());
  EXPECT_EQ(u.vhost, "/");
  EXPECT_FALSE(AmqpUrl::Parse("http://h/", &u).ok());
  EXPECT_FALSE(AmqpUrl::Parse("amqp://h:notaport/", &u).ok());
}

TEST(AmqpUrlTest, AmqpsDefaultsToPort5671AndReadsTheTlsParameters) {
  AmqpUrl u;
  Status st = AmqpUrl::Parse(
      "amqps://grove:s3cret@mq.example/grove?cacertfile=/etc/grove/ca%20file.pem"
      "&certfile=/etc/grove/c.pem&keyfile=/etc/grove/c.key&server_name_indication=mq.internal",
      &u);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 5671);
  EXPECT_EQ(u.host, "mq.example");
  EXPECT_EQ(u.vhost, "grove");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.cacertfile, "/etc/grove/ca file.pem");
  EXPECT_EQ(u.certfile, "/etc/grove/c.pem");
  EXPECT_EQ(u.keyfile, "/etc/grove/c.key");
  EXPECT_TRUE(u.verify_peer);
  EXPECT_EQ(u.VerifyName(), "mq.internal");

  ASSERT_TRUE(AmqpUrl::Parse("amqps://g:p@h:6000/%2f?verify=verify_none", &u).ok());
  EXPECT_EQ(u.port, 6000);
  EXPECT_EQ(u.vhost, "/");
  EXPECT_FALSE(u.verify_peer);
  EXPECT_TRUE(u.cacertfile.empty());
  EXPECT_EQ(u.VerifyName(), "h");

  ASSERT_TRUE(AmqpUrl::Parse("amqp://g:p@h/v", &u).ok());
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.port, 5672);
}

TEST(AmqpUrlTest, RedactedHidesThePasswordAndKeepsTheRest) {
  AmqpUrl u;
  ASSERT_TRUE(
      AmqpUrl::Parse("amqps://grove:s3cret@mq:5671/grove?cacertfile=/ca.pem&verify=verify_none", &u)
          .ok());
  std::string r = u.Redacted();
  EXPECT_EQ(r.find("s3cret"), std::string::npos) << r;
  EXPECT_EQ(r, "amqps://grove:***@mq:5671/grove?cacertfile=/ca.pem&verify=verify_none");
  // What Redacted() prints parses back to the same broker (with a placeholder password).
  AmqpUrl back;
  ASSERT_TRUE(AmqpUrl::Parse(r, &back).ok());
  EXPECT_EQ(back.cacertfile, "/ca.pem");
  EXPECT_FALSE(back.verify_peer);
}

TEST(AmqpUrlTest, BadQueryParametersAreClearErrors) {
  AmqpUrl u;
  auto error = [&u](const std::string& url) {
    Status st = AmqpUrl::Parse(url, &u);
    EXPECT_FALSE(st.ok()) << url;
    EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
    return st.message();
  };
  EXPECT_NE(
      error("amqps://u:s3cret@h/?cacert=/ca.pem").find("unknown broker URL parameter 'cacert'"),
      std::string::npos);
  EXPECT_NE(error("amqp://u:s3cret@h/?cacertfile=/ca.pem").find("amqps://"), std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h/?certfile=/c.pem").find("certfile and keyfile"),
            std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h/?verify=yes").find("verify_peer or verify_none"),
            std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h/?cacertfile=/a&cacertfile=/b").find("twice"),
            std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h/?cacertfile=").find("empty"), std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h/?cacertfile=%zz").find("malformed"), std::string::npos);
  EXPECT_NE(error("amqps://u:s3cret@h:port/").find("malformed"), std::string::npos);
  EXPECT_NE(error("https://h/").find("amqps://"), std::string::npos);
}

TEST_F(AmqpConnectionTest, WrongPasswordIsAClearError) {
  AmqpUrl bad = url_;
  bad.password = "wrong-password";
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(bad, 10, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("login"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("wrong-password"), std::string::npos) << st.message();
  // A configuration error: master and worker fail at start rather than retry.
  EXPECT_FALSE(IsTransient(st)) << st.message();
}

TEST_F(AmqpConnectionTest, UnknownVhostIsAConfigurationError) {
  AmqpUrl bad = url_;
  bad.vhost = "grove-no-such-vhost";
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(bad, 10, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("grove-no-such-vhost"), std::string::npos) << st.message();
  EXPECT_FALSE(IsTransient(st)) << st.message();
}

TEST_F(AmqpConnectionTest, RedeclaringAQueueWithOtherArgumentsIsAConfigurationError) {
  auto c = Connect();
  ASSERT_TRUE(c);
  const std::string q = prefix_ + "-args";
  ASSERT_TRUE(c->DeclareQueue(q, {}).ok());
  QueueOptions other;
  other.dead_letter_exchange = "elsewhere";
  Status st = c->DeclareQueue(q, other);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("PRECONDITION_FAILED"), std::string::npos) << st.message();
  EXPECT_FALSE(IsTransient(st)) << st.message();
}

TEST_F(AmqpConnectionTest, UnreachableBrokerIsAClearError) {
  AmqpUrl bad = url_;
  bad.port = 1;  // nothing listens there
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(bad, 10, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot connect"), std::string::npos) << st.message();
  // Transient: master and worker start anyway and retry.
  EXPECT_TRUE(IsTransient(st)) << st.message();
}

TEST_F(AmqpConnectionTest, ConfirmedPublishThenConsumeWithManualAcks) {
  auto pub = Connect();
  ASSERT_TRUE(pub);
  const std::string ex = prefix_ + ".jobs", q = prefix_ + ".q";
  ASSERT_TRUE(pub->DeclareExchange(ex, "direct").ok());
  ASSERT_TRUE(pub->DeclareQueue(q, {}).ok());
  ASSERT_TRUE(pub->Bind(q, ex, "k").ok());
  ASSERT_TRUE(pub->EnableConfirms().ok());
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(pub->Publish(ex, "k", std::to_string(i)).ok());
  Status st = pub->WaitConfirms(10000);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(pub->unconfirmed(), 0u);
  uint32_t ready = 0;
  ASSERT_TRUE(pub->QueueDepth(q, &ready).ok());
  EXPECT_EQ(ready, 500u);

  {
    // A consumer that takes 3 (prefetch 3) and dies without acking: they come back.
    auto c = Connect();
    ASSERT_TRUE(c->Consume(q, 3).ok());
    int got_count = 0;
    for (int i = 0; i < 50 && got_count < 3; ++i) {
      Delivery d;
      bool got = false;
      ASSERT_TRUE(c->Next(200, &d, &got).ok());
      if (got) ++got_count;
    }
    EXPECT_EQ(got_count, 3);
    Delivery d;
    bool got = true;
    ASSERT_TRUE(c->Next(300, &d, &got).ok());
    EXPECT_FALSE(got) << "prefetch 3 must hold back the 4th delivery until an ack";
  }
  auto c = Connect();
  ASSERT_TRUE(c->Consume(q, 50).ok());
  std::set<std::string> bodies;
  int redelivered = 0;
  for (int i = 0; i < 2000 && bodies.size() < 500; ++i) {
    Delivery d;
    bool got = false;
    ASSERT_TRUE(c->Next(1000, &d, &got).ok());
    if (!got) continue;
    bodies.insert(d.body);
    if (d.redelivered) ++redelivered;
    ASSERT_TRUE(c->Ack(d.tag).ok());
  }
  EXPECT_EQ(bodies.size(), 500u);
  EXPECT_EQ(redelivered, 3);
}

// Acknowledgements queued in a round go out as one multiple ack only below the first delivery
// still open: a job still running (tag 3 here) is never acknowledged with its neighbours, and
// comes back when the connection dies.
TEST_F(AmqpConnectionTest, FlushAcksNeverAcknowledgesAnOpenDelivery) {
  auto pub = Connect();
  ASSERT_TRUE(pub);
  const std::string ex = prefix_ + ".jobs", q = prefix_ + ".q";
  ASSERT_TRUE(pub->DeclareExchange(ex, "direct").ok());
  ASSERT_TRUE(pub->DeclareQueue(q, {}).ok());
  ASSERT_TRUE(pub->Bind(q, ex, "k").ok());
  ASSERT_TRUE(pub->EnableConfirms().ok());
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(pub->Publish(ex, "k", std::to_string(i)).ok());
  ASSERT_TRUE(pub->WaitConfirms(10000).ok());
  {
    auto c = Connect();
    ASSERT_TRUE(c->Consume(q, 10).ok());
    std::vector<Delivery> got_all;
    for (int i = 0; i < 100 && got_all.size() < 6; ++i) {
      Delivery d;
      bool got = false;
      ASSERT_TRUE(c->Next(200, &d, &got).ok());
      if (got) got_all.push_back(d);
    }
    ASSERT_EQ(got_all.size(), 6u);
    // 1, 2 and 5 acknowledged, 6 rejected to nowhere (no dead-letter exchange: dropped), 3 and
    // 4 still open; then 4 too: a multiple ack up to 2, single ones for 4 and 5.
    c->AckLater(got_all[0].tag);
    c->AckLater(got_all[1].tag);
    c->AckLater(got_all[4].tag);
    ASSERT_TRUE(c->Reject(got_all[5].tag, false).ok());
    ASSERT_TRUE(c->FlushAcks().ok());
    c->AckLater(got_all[3].tag);
    ASSERT_TRUE(c->FlushAcks().ok());
    // The connection goes with 3 unacknowledged.
  }
  auto c = Connect();
  ASSERT_TRUE(c->Consume(q, 10).ok());
  std::vector<std::string> left;
  for (int i = 0; i < 10; ++i) {
    Delivery d;
    bool got = false;
    ASSERT_TRUE(c->Next(300, &d, &got).ok());
    if (!got) continue;
    left.push_back(d.body);
    EXPECT_TRUE(d.redelivered);
    c->AckLater(d.tag);
  }
  ASSERT_TRUE(c->FlushAcks().ok());
  EXPECT_EQ(left, std::vector<std::string>{"3"});
}

TEST(DeliveryLedgerTest, OneMultipleAckBelowTheFirstOpenDeliveryThenSingles) {
  DeliveryLedger l;
  for (uint64_t t = 1; t <= 6; ++t) l.Delivered(t);
  l.AckLater(2);
  l.AckLater(1);
  l.AckLater(5);
  l.AckLater(9);  // never delivered: ignored
  l.Settled(4);   // rejected one by one
  DeliveryLedger::Acks a = l.TakeAcks();
  EXPECT_EQ(a.multiple_upto, 2u);
  EXPECT_EQ(a.singles, std::vector<uint64_t>{5});
  EXPECT_EQ(l.open(), 2u);  // 3 and 6
  a = l.TakeAcks();
  EXPECT_EQ(a.multiple_upto, 0u);
  EXPECT_TRUE(a.singles.empty());
  l.AckLater(3);
  l.AckLater(6);
  a = l.TakeAcks();
  EXPECT_EQ(a.multiple_upto, 6u);  // 4 and 5 are settled: nothing else is covered
  EXPECT_TRUE(a.singles.empty());
  EXPECT_EQ(l.open(), 0u);
}

TEST(DeliveryLedgerTest, ATagOutOfSequenceTurnsMultipleAcksOff) {
  DeliveryLedger l;
  l.Delivered(1);
  l.Delivered(3);  // 2 went past the ledger: a multiple ack up to 3 could settle it unseen
  l.AckLater(1);
  l.AckLater(3);
  DeliveryLedger::Acks a = l.TakeAcks();
  EXPECT_EQ(a.multiple_upto, 0u);
  EXPECT_EQ(a.singles, (std::vector<uint64_t>{1, 3}));
}

// The publisher keeps sending while earlier messages await their confirms: every message
// arrives once, in order, each on_confirmed runs once and in publish order, and what piled up
// is merged into arrays no longer than the cap.
TEST_F(AmqpConnectionTest, PublisherPipelinesConfirmsInOrderAndCapsMergedArrays) {
  const std::string q = prefix_ + ".q";
  auto setup = [&q](AmqpConnection& c) { return c.DeclareQueue(q, {}); };
  AmqpPublisher pub(url_, setup);
  pub.Start();
  constexpr int kN = 3000;
  std::mutex mu;
  std::vector<int> confirmed;
  for (int i = 0; i < kN; ++i) {
    Outgoing m{"", q, std::to_string(i), [&mu, &confirmed, i] {
                 std::lock_guard lock(mu);
                 confirmed.push_back(i);
               }};
    if (i % 500 != 0) {  // every 500th travels alone
      m.merge_key = q;
      m.merge_max_count = 32;
    }
    pub.Publish(std::move(m));
  }
  for (int i = 0; i < 300 && pub.pending() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(pub.pending(), 0u);
  pub.Stop();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(confirmed.size(), static_cast<size_t>(kN));
    for (int i = 0; i < kN; ++i) ASSERT_EQ(confirmed[i], i);
  }
  auto c = Connect();
  ASSERT_TRUE(c->Consume(q, 500).ok());
  std::vector<int> got_values;
  size_t messages = 0;
  for (int i = 0; i < 2000 && got_values.size() < static_cast<size_t>(kN); ++i) {
    Delivery d;
    bool got = false;
    ASSERT_TRUE(c->Next(1000, &d, &got).ok());
    if (!got) continue;
    ++messages;
    ASSERT_TRUE(c->Ack(d.tag).ok());
    std::string body = d.body;
    size_t n = 1;
    if (!body.empty() && body.front() == '[') {
      body = body.substr(1, body.size() - 2);
      n = std::count(body.begin(), body.end(), ',') + 1;
      EXPECT_LE(n, 32u) << d.body;
    }
    std::stringstream in(body);
    for (std::string item; std::getline(in, item, ',');) got_values.push_back(std::stoi(item));
  }
  ASSERT_EQ(got_values.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(got_values[i], i);
  EXPECT_GE(messages, static_cast<size_t>(kN / 32));
}

// Messages queued together (the worker's gathered events) reach an idle publisher together: one
// array, not the first alone and the rest behind it; each on_confirmed runs once, in order.
TEST_F(AmqpConnectionTest, PublisherSendsMessagesQueuedTogetherAsOneArray) {
  const std::string q = prefix_ + ".together";
  auto setup = [&q](AmqpConnection& c) { return c.DeclareQueue(q, {}); };
  AmqpPublisher pub(url_, setup);
  pub.Start();
  std::mutex mu;
  std::vector<int> confirmed;
  auto message = [&](int i) {
    return Outgoing{"", q, std::to_string(i),
                    [&mu, &confirmed, i] {
                      std::lock_guard lock(mu);
                      confirmed.push_back(i);
                    },
                    q};
  };
  pub.Publish(message(0));  // connects; then the publisher sleeps, nothing in flight
  for (int i = 0; i < 300 && pub.pending() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(pub.pending(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  constexpr int kN = 20;
  std::vector<Outgoing> batch;
  for (int i = 1; i <= kN; ++i) batch.push_back(message(i));
  pub.Publish(std::move(batch));
  for (int i = 0; i < 300 && pub.pending() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(pub.pending(), 0u);
  pub.Stop();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(confirmed.size(), static_cast<size_t>(kN + 1));
    for (int i = 0; i <= kN; ++i) EXPECT_EQ(confirmed[i], i);
  }
  auto c = Connect();
  ASSERT_TRUE(c->Consume(q, 100).ok());
  std::vector<std::string> bodies;
  for (int i = 0; i < 20 && bodies.size() < 2; ++i) {
    Delivery d;
    bool got = false;
    ASSERT_TRUE(c->Next(200, &d, &got).ok());
    if (!got) continue;
    ASSERT_TRUE(c->Ack(d.tag).ok());
    bodies.push_back(d.body);
  }
  std::string all = "[1";
  for (int i = 2; i <= kN; ++i) all += "," + std::to_string(i);
  all += "]";
  EXPECT_EQ(bodies, (std::vector<std::string>{"0", all}));
}

TEST_F(AmqpConnectionTest, RejectedMessageGoesToTheDeadLetterQueue) {
  auto c = Connect();
  const std::string dlx = prefix_ + ".dlx", dlq = prefix_ + ".dead", q = prefix_ + ".q";
  ASSERT_TRUE(c->DeclareExchange(dlx, "fanout").ok());
  ASSERT_TRUE(c->DeclareQueue(dlq, {}).ok());
  ASSERT_TRUE(c->Bind(dlq, dlx, "").ok());
  QueueOptions opts;
  opts.dead_letter_exchange = dlx;
  ASSERT_TRUE(c->DeclareQueue(q, opts).ok());
  ASSERT_TRUE(c->EnableConfirms().ok());
  ASSERT_TRUE(c->Publish("", q, "not json").ok());  // default exchange: routed by queue name
  ASSERT_TRUE(c->WaitConfirms(5000).ok());
  auto consumer = Connect();
  ASSERT_TRUE(consumer->Consume(q, 1).ok());
  Delivery d;
  bool got = false;
  for (int i = 0; i < 20 && !got; ++i) ASSERT_TRUE(consumer->Next(250, &d, &got).ok());
  ASSERT_TRUE(got);
  ASSERT_TRUE(consumer->Reject(d.tag, false).ok());
  uint32_t dead = 0;
  for (int i = 0; i < 20 && dead == 0; ++i) {
    ASSERT_TRUE(c->QueueDepth(dlq, &dead).ok());
    if (!dead) usleep(50000);
  }
  EXPECT_EQ(dead, 1u);
}

TEST_F(AmqpConnectionTest, DeclaringAnExistingQueueDifferentlyIsAnError) {
  auto c = Connect();
  const std::string q = prefix_ + ".q";
  ASSERT_TRUE(c->DeclareQueue(q, {}).ok());
  QueueOptions other;
  other.durable = false;
  Status st = c->DeclareQueue(q, other);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("PRECONDITION_FAILED"), std::string::npos) << st.message();
}

// amqps:// against the TLS listener of the private node (scripts/rabbitmq.sh makes its CA and
// certificates in GROVE_RABBITMQ_DIR/tls and its port is in GROVE_RABBITMQ_DIR/ports).
class AmqpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("GROVE_RABBITMQ_DIR");
    if (!dir || !*dir) GTEST_SKIP() << "GROVE_RABBITMQ_DIR is unset (scripts/test.sh sets it)";
    dir_ = dir;
    std::ifstream ports(dir_ + "/ports");
    std::string line;
    while (std::getline(ports, line)) {
      if (line.rfind("TLS_PORT=", 0) == 0) url_.port = std::stoi(line.substr(9));
      if (line.rfind("AMQP_PORT=", 0) == 0) plain_port_ = std::stoi(line.substr(10));
    }
    if (url_.port == 5672) GTEST_SKIP() << "the node of " << dir_ << " has no TLS listener";
    url_.tls = true;
    url_.host = "127.0.0.1";
    url_.password = "guest";
    url_.cacertfile = dir_ + "/tls/ca.pem";
  }
  static Status Open(const AmqpUrl& u) {
    std::unique_ptr<AmqpConnection> c;
    return AmqpConnection::Open(u, 10, &c);
  }
  // A CA of its own that signed nothing the node uses.
  std::string OtherCa() {
    std::string tmp = ::testing::TempDir() + "grove-other-ca-" + std::to_string(getpid());
    std::filesystem::create_directories(tmp);
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=Other -keyout " +
                      tmp + "/ca.key -out " + tmp + "/ca.pem >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return tmp + "/ca.pem";
  }
  static void ExpectOneLineWithoutPassword(const Status& st) {
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("guest@"), std::string::npos) << st.message();
  }
  std::string dir_;
  int plain_port_ = 0;
  AmqpUrl url_;
};

TEST_F(AmqpTlsTest, PublishesAndConsumesOverTls) {
  std::unique_ptr<AmqpConnection> pub, sub;
  Status st = AmqpConnection::Open(url_, 10, &pub);
  ASSERT_TRUE(st.ok()) << st.message();
  const std::string q = "grove-unit-tls-" + std::to_string(getpid());
  ASSERT_TRUE(pub->DeclareQueue(q, {}).ok());
  ASSERT_TRUE(pub->EnableConfirms().ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(pub->Publish("", q, std::to_string(i)).ok());
  ASSERT_TRUE(pub->WaitConfirms(10000).ok());
  ASSERT_TRUE(AmqpConnection::Open(url_, 10, &sub).ok());
  ASSERT_TRUE(sub->Consume(q, 20).ok());
  std::set<std::string> bodies;
  for (int i = 0; i < 2000 && bodies.size() < 300; ++i) {
    Delivery d;
    bool got = false;
    ASSERT_TRUE(sub->Next(500, &d, &got).ok());
    if (!got) continue;
    bodies.insert(d.body);
    ASSERT_TRUE(sub->Ack(d.tag).ok());
  }
  EXPECT_EQ(bodies.size(), 300u);
}

TEST_F(AmqpTlsTest, ServerNameIsCheckedAgainstTheCertificate) {
  AmqpUrl u = url_;
  u.server_name = "localhost";  // in the certificate's subjectAltName
  Status st = Open(u);
  EXPECT_TRUE(st.ok()) << st.message();
  u.server_name = "mq.example";
  st = Open(u);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TLS handshake failed: certificate verify failed: hostname mismatch"),
            std::string::npos)
      << st.message();
  ExpectOneLineWithoutPassword(st);
}

TEST_F(AmqpTlsTest, WrongCaFailsTheHandshakeAndVerifyNoneConnects) {
  AmqpUrl u = url_;
  u.password = "tls-secret-password";
  u.cacertfile = OtherCa();
  Status st = Open(u);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TLS handshake failed: certificate verify failed"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find("tls-secret-password"), std::string::npos) << st.message();
  ExpectOneLineWithoutPassword(st);
  EXPECT_FALSE(IsTransient(st)) << st.message();
  // The system bundle does not know the test CA either.
  u.cacertfile.clear();
  st = Open(u);
  EXPECT_NE(st.message().find("certificate verify failed"), std::string::npos) << st.message();
  u = url_;
  u.cacertfile.clear();
  u.verify_peer = false;
  st = Open(u);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(AmqpTlsTest, ClientCertificateIsAccepted) {
  AmqpUrl u = url_;
  u.certfile = dir_ + "/tls/client.pem";
  u.keyfile = dir_ + "/tls/client.key";
  Status st = Open(u);
  EXPECT_TRUE(st.ok()) << st.message();
  u.keyfile = dir_ + "/tls/server.key";  // not the certificate's key
  st = Open(u);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("client certificate"), std::string::npos) << st.message();
}

TEST_F(AmqpTlsTest, MissingFilesAndPlainPortsAreNamed) {
  AmqpUrl u = url_;
  u.cacertfile = "/nonexistent/grove/ca.pem";
  Status st = Open(u);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot read cacertfile /nonexistent/grove/ca.pem"),
            std::string::npos)
      << st.message();
  ExpectOneLineWithoutPassword(st);
  EXPECT_FALSE(IsTransient(st)) << st.message();
  u = url_;
  u.port = plain_port_;  // TLS to the plain AMQP listener
  st = Open(u);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TLS handshake failed"), std::string::npos) << st.message();
  ExpectOneLineWithoutPassword(st);
  EXPECT_FALSE(IsTransient(st)) << st.message();
}

}  // namespace
}  // namespace grove::amqp
