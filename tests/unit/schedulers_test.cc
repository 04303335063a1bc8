// Tests for the pure parts of the schedulers and change sources: branch and file matching,
// webhook verification and parsing, job tokens, and the store's changes and scheduler state.
#include "schedulers/schedulers.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <filesystem>
#include <random>

#include "changes/webhooks.h"
#include "master/hmac.h"
#include "master/job_token.h"
#include "store/store.h"

namespace grove {
namespace {

TEST(Matching, Branches) {
  EXPECT_TRUE(BranchMatches({}, "anything"));
  EXPECT_TRUE(BranchMatches({"main"}, "main"));
  EXPECT_FALSE(BranchMatches({"main"}, "maint"));
  EXPECT_TRUE(BranchMatches({"main", "release/*"}, "release/1.2"));
  EXPECT_FALSE(BranchMatches({"release/*"}, "feature/x"));
}

TEST(Matching, Files) {
  EXPECT_TRUE(FilesMatch({}, {}));
  EXPECT_TRUE(FilesMatch({"docs/*"}, {"src/a.c", "docs/deep/guide.md"}));
  EXPECT_FALSE(FilesMatch({"docs/*"}, {"src/a.c"}));
  EXPECT_TRUE(FilesMatch({"*.py"}, {"tools/x.py"}));
}

TEST(Hmac, KnownVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

// Keyed contexts are cached per key: interleaved keys, many keys and a key again after the cache
// was cleared still give each key's MAC.
TEST(Hmac, CachedKeysStayApart) {
  const std::string jefe = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  // RFC 4231 test case 1: key 0x0b x 20, "Hi There".
  const std::string one = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"), jefe);
    EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"), one);
    HmacSha256Hex("key " + std::to_string(i), "x");
  }
  EXPECT_NE(HmacSha256Hex("a", "x"), HmacSha256Hex("b", "x"));
  EXPECT_EQ(HmacSha256Hex("", "x").size(), 64u);
}

// The keyed hash states give OpenSSL's HMAC for keys shorter than, as long as and longer than
// SHA-256's 64-byte block (hashed first), and for data of any length.
TEST(Hmac, KeyedStatesMatchOpenSsl) {
  std::mt19937 rng(14);
  for (size_t key_len : {0, 1, 20, 63, 64, 65, 100, 200}) {
    std::string key(key_len, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    const HmacSha256Key keyed(key);
    for (size_t data_len : {0, 1, 55, 56, 64, 65, 1000}) {
      std::string data(data_len, '\0');
      for (char& c : data) c = static_cast<char>(rng());
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &n);
      std::string want;
      for (unsigned i = 0; i < n; ++i) {
        want += "0123456789abcdef"[mac[i] >> 4];
        want += "0123456789abcdef"[mac[i] & 15];
      }
      EXPECT_EQ(keyed.Hex(data), want) << key_len << " " << data_len;
      EXPECT_EQ(HmacSha256Hex(key, data), want) << key_len << " " << data_len;
    }
  }
}

TEST(JobTokens, RoundTripAndTampering) {
  JobTokens tokens("k" + std::string(63, '0'));
  std::string t = tokens.Make(42, 3);
  int64_t request = 0;
  int attempt = 0;
  ASSERT_TRUE(tokens.Check(t, &request, &attempt));
  EXPECT_EQ(request, 42);
  EXPECT_EQ(attempt, 3);
  std::string other = "43" + t.substr(2);
  EXPECT_FALSE(tokens.Check(other, &request, &attempt));
  EXPECT_FALSE(tokens.Check("42.3.", &request, &attempt));
  EXPECT_FALSE(tokens.Check("", &request, &attempt));
  EXPECT_FALSE(JobTokens("another-key").Check(t, &request, &attempt));
}

http::Request Post(std::string body, std::map<std::string, std::string> headers) {
  http::Request r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

const char* kPush = R"({"ref":"refs/heads/main","after":"bbbb","repository":{
  "clone_url":"https://github.com/o/r.git","html_url":"https://github.com/o/r"},
  "commits":[{"id":"aaaa","message":"m","timestamp":"2026-01-02T03:04:05Z",
  "author":{"name":"A","email":"a@x"},"added":["n"],"modified":["m"],"removed":["n"]}]})";

TEST(Webhooks, GithubSignature) {
  std::string sig = "sha256=" + HmacSha256Hex("s3cret", kPush);
  HookOutcome ok = ReceiveWebhook(
      "github", "s3cret", Post(kPush, {{"x-hub-signature-256", sig}, {"x-github-event", "push"}}),
      {"https://GitHub.com/o/r"});
  ASSERT_EQ(ok.status, 200) << ok.message;
  // The listed commit, then the push's head ("after"), which commits[] did not describe.
  ASSERT_EQ(ok.changes.size(), 2u);
  EXPECT_EQ(ok.changes[1].revision, "bbbb");
  EXPECT_EQ(ok.changes[0].repository, "https://GitHub.com/o/r");  // the configured spelling
  EXPECT_EQ(ok.changes[0].files, (std::vector<std::string>{"m", "n"}));
  EXPECT_EQ(ok.changes[0].committed_at, 1767323045000);
  EXPECT_EQ(
      ReceiveWebhook("github", "s3cret", Post(kPush, {{"x-github-event", "push"}}), {}).status,
      401);
  EXPECT_EQ(
      ReceiveWebhook("github", "other", Post(kPush, {{"x-hub-signature-256", sig}}), {}).status,
      401);
  EXPECT_EQ(ReceiveWebhook("github", "", Post(kPush, {{"x-hub-signature-256", sig}}), {}).status,
            404);
  // A tag push and a deleted branch are answered without changes.
  std::string tag = R"({"ref":"refs/tags/v1","after":"cc","repository":{"clone_url":"u"}})";
  HookOutcome t = ReceiveWebhook(
      "github", "s", Post(tag, {{"x-hub-signature-256", "sha256=" + HmacSha256Hex("s", tag)}}), {});
  EXPECT_EQ(t.status, 200);
  EXPECT_TRUE(t.changes.empty());
  std::string del =
      R"({"ref":"refs/heads/x","after":"0000000000","deleted":true,"repository":{"clone_url":"u"}})";
  HookOutcome d = ReceiveWebhook(
      "github", "s", Post(del, {{"x-hub-signature-256", "sha256=" + HmacSha256Hex("s", del)}}), {});
  EXPECT_EQ(d.status, 200);
  EXPECT_TRUE(d.changes.empty());
}

TEST(Webhooks, MalformedBodiesAre400) {
  for (std::string body : {std::string("[1,2]"), std::string(R"({"ref":5})"),
                           std::string(R"({"ref":"refs/heads/m","commits":{}})"),
                           std::string(R"({"ref":"refs/heads/m","commits":[{"id":1}]})")}) {
    HookOutcome o = ReceiveWebhook(
        "gitea", "k", Post(body, {{"x-gitea-signature", HmacSha256Hex("k", body)}}), {});
    EXPECT_EQ(o.status, 400) << body;
  }
  HookOutcome g = ReceiveWebhook(
      "generic", "tok",
      Post(R"({"repository":"r","branch":"b"})", {{"authorization", "Bearer tok"}}), {});
  EXPECT_EQ(g.status, 400);
  EXPECT_NE(g.message.find("revision"), std::string::npos);
}

TEST(Webhooks, GitlabTokenAndGeneric) {
  std::string body =
      R"({"object_kind":"push","ref":"refs/heads/dev","after":"c1","project":{"git_http_url":"https://gl/x.git"},"commits":[{"id":"c1","message":"x"}]})";
  EXPECT_EQ(ReceiveWebhook("gitlab", "t", Post(body, {{"x-gitlab-token", "u"}}), {}).status, 401);
  HookOutcome ok = ReceiveWebhook(
      "gitlab", "t", Post(body, {{"x-gitlab-token", "t"}, {"x-gitlab-event", "Push Hook"}}), {});
  ASSERT_EQ(ok.status, 200) << ok.message;
  EXPECT_EQ(ok.changes.at(0).repository, "https://gl/x.git");
  HookOutcome gen =
      ReceiveWebhook("generic", "tok",
                     Post(R"({"repository":"r","branch":"b","revision":"v","when":1700000000})",
                          {{"authorization", "Bearer tok"}}),
                     {});
  ASSERT_EQ(gen.status, 200) << gen.message;
  EXPECT_EQ(gen.changes.at(0).committed_at, 1700000000000);
}

TEST(StoreChanges, AddListLinkAndState) {
  std::unique_ptr<Store> store;
  ASSERT_TRUE(OpenStore("sqlite::memory:", "", &store).ok());
  ChangeRecord a, b;
  a.repository = b.repository = "repo";
  a.branch = b.branch = "main";
  a.revision = "r1";
  b.revision = "r2";
  b.files = {"x", "y"};
  ASSERT_TRUE(store->AddChange(&a).ok());
  ASSERT_TRUE(store->AddChange(&b).ok());
  EXPECT_GT(b.id, a.id);
  std::vector<ChangeRecord> list;
  ASSERT_TRUE(store->ListChanges(0, 10, &list).ok());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].revision, "r2");
  EXPECT_EQ(list[0].files, (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(store->ListChanges(b.id, 10, &list).ok());
  EXPECT_EQ(list.size(), 1u);
  int64_t latest = 0;
  ASSERT_TRUE(store->LatestChangeId("repo", &latest).ok());
  EXPECT_EQ(latest, b.id);
  ASSERT_TRUE(store->LatestChangeId("other", &latest).ok());
  EXPECT_EQ(latest, 0);

  RequestRecord r;
  r.builder = "b";
  ASSERT_TRUE(store->AddRequest(&r).ok());
  ASSERT_TRUE(store->LinkRequestChanges(r.id, {a.id, b.id}).ok());
  ASSERT_TRUE(store->LinkRequestChanges(r.id, {b.id}).ok());  // idempotent
  ASSERT_TRUE(store->ChangesOfRequest(r.id, &list).ok());
  EXPECT_EQ(list.size(), 2u);

  SchedulerState s;
  EXPECT_EQ(store->GetSchedulerState("nightly", &s).code(), Status::Code::kNotFound);
  s.last_fire = 1234;
  s.data = {{"heads", {{"main", "r2"}}}};
  ASSERT_TRUE(store->PutSchedulerState("nightly", s).ok());
  s.last_fire = 5678;
  ASSERT_TRUE(store->PutSchedulerState("nightly", s).ok());
  SchedulerState back;
  ASSERT_TRUE(store->GetSchedulerState("nightly", &back).ok());
  EXPECT_EQ(back.last_fire, 5678);
  EXPECT_EQ(back.data["heads"]["main"], "r2");
}

std::vector<std::string> Revisions(const HookOutcome& o) {
  std::vector<std::string> out;
  for (const ChangeRecord& c : o.changes) out.push_back(c.revision);
  return out;
}

// Gitea/Forgejo list commits[] newest first; GitHub and GitLab oldest first. Either way the
// changes come oldest first with the push's head last, which is what gets built.
TEST(Webhooks, HeadIsLastWhateverTheCommitOrder) {
  const char* kGitea = R"({"ref":"refs/heads/main","before":"0a","after":"c3",
    "repository":{"clone_url":"https://gitea.example/o/r.git"},
    "commits":[{"id":"c3","message":"third","timestamp":"2026-01-02T03:06:00Z","added":["c"]},
               {"id":"c2","message":"second","timestamp":"2026-01-02T03:05:00Z","added":["b"]},
               {"id":"c1","message":"first","timestamp":"2026-01-02T03:04:00Z","added":["a"]}],
    "head_commit":{"id":"c3","message":"third"},"total_commits":3})";
  HookOutcome gitea = ReceiveWebhook(
      "gitea", "k",
      Post(kGitea, {{"x-gitea-signature", HmacSha256Hex("k", kGitea)}, {"x-gitea-event", "push"}}),
      {});
  ASSERT_EQ(gitea.status, 200) << gitea.message;
  EXPECT_EQ(Revisions(gitea), (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(gitea.changes[2].files, std::vector<std::string>{"c"});

  // GitLab: checkout_sha is the head.
  const char* kGitlab = R"({"object_kind":"push","ref":"refs/heads/dev","before":"00","after":"g2",
    "checkout_sha":"g2","project":{"git_http_url":"https://gl/x.git"},
    "commits":[{"id":"g1","message":"one"},{"id":"g2","message":"two"}],"total_commits_count":2})";
  HookOutcome gitlab = ReceiveWebhook(
      "gitlab", "t", Post(kGitlab, {{"x-gitlab-token", "t"}, {"x-gitlab-event", "Push Hook"}}), {});
  ASSERT_EQ(gitlab.status, 200) << gitlab.message;
  EXPECT_EQ(Revisions(gitlab), (std::vector<std::string>{"g1", "g2"}));

  // No commits listed (a branch made from a known commit): head_commit describes the head.
  const char* kNew = R"({"ref":"refs/heads/x","after":"h1","created":true,"commits":[],
    "repository":{"clone_url":"u"},
    "head_commit":{"id":"h1","message":"known","author":{"name":"A","email":"a@x"}}})";
  HookOutcome fresh = ReceiveWebhook(
      "github", "s", Post(kNew, {{"x-hub-signature-256", "sha256=" + HmacSha256Hex("s", kNew)}}),
      {});
  ASSERT_EQ(fresh.status, 200) << fresh.message;
  ASSERT_EQ(Revisions(fresh), std::vector<std::string>{"h1"});
  EXPECT_EQ(fresh.changes[0].comments, "known");
  EXPECT_EQ(fresh.changes[0].author, "A <a@x>");

  // A head that cannot be told is refused; so is an 'after' of the wrong type.
  for (std::string body : {std::string(R"({"ref":"refs/heads/m","repository":{"clone_url":"u"},
                             "commits":[{"id":"a"}]})"),
                           std::string(R"({"ref":"refs/heads/m","after":7,
                             "repository":{"clone_url":"u"}})")}) {
    HookOutcome o = ReceiveWebhook(
        "gitea", "k", Post(body, {{"x-gitea-signature", HmacSha256Hex("k", body)}}), {});
    EXPECT_EQ(o.status, 400) << body;
  }
}

std::string FormEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "payload=";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// GitHub's default content type: payload=<JSON>, the signature over the form body as sent.
// Gitea's form variant signs the JSON itself.
TEST(Webhooks, FormEncodedPayloads) {
  const std::string json =
      R"({"ref":"refs/heads/main","after":"f2","repository":{"clone_url":"https://github.com/o/r.git"},
      "commits":[{"id":"f1","message":"fix the thing + more & 100%"},{"id":"f2","message":"two"}]})";
  const std::string form = FormEncode(json);
  const std::map<std::string, std::string> type = {
      {"content-type", "application/x-www-form-urlencoded"}, {"x-github-event", "push"}};
  auto with = [&](std::string k, std::string v) {
    auto h = type;
    h[k] = v;
    return h;
  };
  HookOutcome gh = ReceiveWebhook(
      "github", "s", Post(form, with("x-hub-signature-256", "sha256=" + HmacSha256Hex("s", form))),
      {});
  ASSERT_EQ(gh.status, 200) << gh.message;
  EXPECT_EQ(Revisions(gh), (std::vector<std::string>{"f1", "f2"}));
  EXPECT_EQ(gh.changes[0].comments, "fix the thing + more & 100%");
  EXPECT_EQ(
      ReceiveWebhook(
          "github", "s",
          Post(form, with("x-hub-signature-256", "sha256=" + HmacSha256Hex("other", form))), {})
          .status,
      401);
  HookOutcome gt = ReceiveWebhook(
      "gitea", "k", Post(form, with("x-gitea-signature", HmacSha256Hex("k", json))), {});
  ASSERT_EQ(gt.status, 200) << gt.message;
  EXPECT_EQ(gt.changes.size(), 2u);
  // A form without the payload field, or a payload that is not JSON: 400.
  for (std::string body : {std::string("other=1"), std::string("payload=%7Bnope")}) {
    HookOutcome o = ReceiveWebhook(
        "github", "s",
        Post(body, with("x-hub-signature-256", "sha256=" + HmacSha256Hex("s", body))), {});
    EXPECT_EQ(o.status, 400) << body;
  }
}

TEST(Webhooks, DeliveryIds) {
  std::string sig = "sha256=" + HmacSha256Hex("s", kPush);
  HookOutcome o = ReceiveWebhook(
      "github", "s", Post(kPush, {{"x-hub-signature-256", sig}, {"x-github-delivery", "d-1"}}), {});
  ASSERT_EQ(o.status, 200) << o.message;
  EXPECT_EQ(o.delivery, "d-1");
  o = ReceiveWebhook(
      "github", "s",
      Post(kPush, {{"x-hub-signature-256", sig}, {"x-github-delivery", std::string(201, 'x')}}),
      {});
  EXPECT_EQ(o.status, 400);
  std::string gl = R"({"ref":"refs/heads/d","after":"c1","project":{"git_http_url":"u"}})";
  o = ReceiveWebhook("gitlab", "t",
                     Post(gl, {{"x-gitlab-token", "t"}, {"x-gitlab-event-uuid", "e-9"}}), {});
  ASSERT_EQ(o.status, 200) << o.message;
  EXPECT_EQ(o.delivery, "e-9");
  o = ReceiveWebhook(
      "gitea", "k",
      Post(kPush, {{"x-gitea-signature", HmacSha256Hex("k", kPush)}, {"x-gitea-delivery", "u-3"}}),
      {});
  EXPECT_EQ(o.delivery, "u-3");
}

TEST(StoreChanges, LastRevisionAndDeliveries) {
  std::unique_ptr<Store> store;
  ASSERT_TRUE(OpenStore("sqlite::memory:", "", &store).ok());
  std::string rev = "unset";
  ASSERT_TRUE(store->LastChangeRevision("repo", "main", &rev).ok());
  EXPECT_EQ(rev, "");
  for (const char* r : {"r1", "r2"}) {
    ChangeRecord c;
    c.repository = "repo";
    c.branch = "main";
    c.revision = r;
    ASSERT_TRUE(store->AddChange(&c).ok());
  }
  ChangeRecord other;
  other.repository = "repo";
  other.branch = "dev";
  other.revision = "d1";
  ASSERT_TRUE(store->AddChange(&other).ok());
  ASSERT_TRUE(store->LastChangeRevision("repo", "main", &rev).ok());
  EXPECT_EQ(rev, "r2");
  ASSERT_TRUE(store->LastChangeRevision("other-repo", "main", &rev).ok());
  EXPECT_EQ(rev, "");

  const int64_t day = 24 * 3600 * 1000LL;
  bool first = false;
  ASSERT_TRUE(store->RememberDelivery("github", "d1", 10 * day, 7 * day, &first).ok());
  EXPECT_TRUE(first);
  ASSERT_TRUE(store->RememberDelivery("github", "d1", 11 * day, 7 * day, &first).ok());
  EXPECT_FALSE(first);
  ASSERT_TRUE(store->RememberDelivery("gitea", "d1", 11 * day, 7 * day, &first).ok());
  EXPECT_TRUE(first);  // another provider's id space
  // Past the keep time the id is forgotten (the store stays bounded).
  ASSERT_TRUE(store->RememberDelivery("github", "d1", 18 * day, 7 * day, &first).ok());
  EXPECT_TRUE(first);
}

}  // namespace
}  // namespace grove
