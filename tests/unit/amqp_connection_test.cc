// AmqpConnection against a real RabbitMQ node: GROVE_TEST_AMQP_URL (scripts/test.sh starts a
// private node and sets it). Without it the tests are skipped, saying why.
#include "broker/amqp_connection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

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

TEST_F(AmqpConnectionTest, WrongPasswordIsAClearError) {
  AmqpUrl bad = url_;
  bad.password = "wrong-password";
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(bad, 10, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("login"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("wrong-password"), std::string::npos) << st.message();
}

TEST_F(AmqpConnectionTest, UnreachableBrokerIsAClearError) {
  AmqpUrl bad = url_;
  bad.port = 1;  // nothing listens there
  std::unique_ptr<AmqpConnection> c;
  Status st = AmqpConnection::Open(bad, 10, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot connect"), std::string::npos) << st.message();
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

}  // namespace
}  // namespace grove::amqp
