// The web UI's building blocks without a server: the users file, password and token hashing,
// and the EventHub's handling of slow or gone subscribers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "master/event_hub.h"
#include "master/users_file.h"

namespace grove {
namespace {

TEST(UsersFile, RoundTripAndHashes) {
  auto dir = std::filesystem::temp_directory_path() / ("grove-users-" + RandomHex(6));
  std::string path = (dir / "users").string();
  UsersData empty;
  ASSERT_TRUE(LoadUsers(path, &empty).ok());  // a missing file is no users
  EXPECT_TRUE(empty.users.empty());

  UsersData data;
  std::string hash;
  ASSERT_TRUE(HashPassword("correct horse", &hash).ok());
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(hash, "correct horsE"));
  std::string again;
  ASSERT_TRUE(HashPassword("correct horse", &again).ok());
  EXPECT_NE(hash, again);  // salted
  EXPECT_FALSE(HashPassword("short", &again).ok());

  data.users.push_back({"alice", "developer", hash});
  std::string token = NewApiToken();
  data.tokens.push_back({token.substr(0, 14), "alice", TokenHash(token), 1});
  ASSERT_TRUE(SaveUsers(path, data).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  UsersData back;
  ASSERT_TRUE(LoadUsers(path, &back).ok());
  ASSERT_NE(back.Find("alice"), nullptr);
  EXPECT_EQ(back.Find("alice")->role, "developer");
  EXPECT_TRUE(SecretEquals(back.tokens[0].hash, TokenHash(token)));
  EXPECT_FALSE(SecretEquals(back.tokens[0].hash, TokenHash(token + "x")));

  std::ofstream(path) << "{\"users\": [{\"name\": \"x\", \"role\": \"boss\", \"password\": \"\"}]}";
  Status st = LoadUsers(path, &back);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown role 'boss'"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Sessions end when this changes (master/auth.cc): any new password hash must change it,
// even for the same password, and nothing else may.
TEST(UsersFile, CredentialFingerprintFollowsThePassword) {
  UserEntry alice{"alice", "developer", ""};
  ASSERT_TRUE(HashPassword("alice-password-1", &alice.password_hash).ok());
  const std::string before = CredentialFingerprint(alice);
  EXPECT_EQ(CredentialFingerprint(alice), before);
  UserEntry promoted = alice;
  promoted.role = "admin";
  EXPECT_EQ(CredentialFingerprint(promoted), before);
  UserEntry again = alice;
  ASSERT_TRUE(HashPassword("alice-password-1", &again.password_hash).ok());
  EXPECT_NE(CredentialFingerprint(again), before);
  EXPECT_EQ(before.find("argon2"), std::string::npos);  // a digest, not the hash itself
}

TEST(UsersFile, NamesAndRoles) {
  EXPECT_TRUE(ValidUserName("alice.b-c_d@x").ok());
  EXPECT_FALSE(ValidUserName("").ok());
  EXPECT_FALSE(ValidUserName("a b").ok());
  EXPECT_LT(RoleRank("viewer"), RoleRank("developer"));
  EXPECT_LT(RoleRank("developer"), RoleRank("admin"));
  EXPECT_EQ(RoleRank("none"), 0);
}

// A sink that stores what it is given, up to a bound, like the server's.
class FakeSink : public http::StreamSink {
 public:
  explicit FakeSink(size_t bound) : bound_(bound) {}
  bool Write(std::string bytes) override {
    if (closed_ || data.size() + bytes.size() > bound_) {
      closed_ = true;
      return false;
    }
    data += bytes;
    return true;
  }
  bool closed() const override { return closed_; }
  void Close() override { closed_ = true; }
  std::string data;

 private:
  size_t bound_;
  bool closed_ = false;
};

TEST(EventHub, FramesAndDropsSlowSubscribers) {
  EventHub hub;
  EXPECT_EQ(hub.generation(), 0u);
  hub.Publish({{"type", "build"}});  // nobody listens: only the generation moves
  EXPECT_EQ(hub.generation(), 1u);
  auto fast = std::make_shared<FakeSink>(1 << 20);
  auto slow = std::make_shared<FakeSink>(200);
  hub.Subscribe(fast);
  hub.Subscribe(slow);
  EXPECT_EQ(hub.subscribers(), 2u);
  for (int i = 0; i < 10; ++i) hub.Publish({{"type", "log"}, {"build", i}});
  EXPECT_EQ(hub.subscribers(), 1u);  // the slow one overflowed and was dropped
  EXPECT_TRUE(slow->closed());
  EXPECT_NE(fast->data.find("event: hello"), std::string::npos);
  EXPECT_NE(fast->data.find("data: {\"build\":9,\"type\":\"log\"}\n\n"), std::string::npos);
  fast->Close();
  hub.Ping();
  EXPECT_EQ(hub.subscribers(), 0u);
}

}  // namespace
}  // namespace grove
