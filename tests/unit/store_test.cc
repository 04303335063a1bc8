// The SQLite store against real database files in a temporary directory.
#include "store/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/log_codec.h"
#include "store/migrations.h"
#include "store/sql_db.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Reopen() {
    store_.reset();
    Status st = OpenStore("sqlite:state/grove.db", dir_.string(), &store_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::string DbPath() const { return (dir_ / "state" / "grove.db").string(); }

  int64_t AddRequest(const std::string& builder, int priority = 0) {
    RequestRecord r;
    r.builder = builder;
    r.priority = priority;
    r.reason = "test";
    Status st = store_->AddRequest(&r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r.id;
  }

  // A request, claimed, with its build started: returns the build.
  BuildRecord NewBuild(const std::string& builder) {
    int64_t req = AddRequest(builder);
    int attempt = 0;
    EXPECT_TRUE(store_->ClaimRequest(req, "w1", 1000, &attempt).ok());
    BuildRecord b;
    b.request_id = req;
    b.attempt = attempt;
    b.builder = builder;
    b.worker = "w1";
    b.started_at = 1000;
    Status st = store_->StartBuild(&b);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return b;
  }

  void StartStep(int64_t build_id, int idx, const std::string& name = "step") {
    StepRecord s;
    s.build_id = build_id;
    s.idx = idx;
    s.name = name;
    s.started_at = 2000;
    Status st = store_->StartStep(s);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::string ReadAll(int64_t build_id, int idx, int64_t* total = nullptr) {
    std::string out;
    int64_t size = -1;
    Status st = store_->ReadLog(build_id, idx, 0, 1 << 30, &out, &size);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (total) *total = size;
    return out;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

// Deterministic log text: numbered lines of varying length, compressible but not trivially.
std::string LogText(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(size + 128);
  for (int line = 0; out.size() < size; ++line) {
    out += "[" + std::to_string(line) + "] compiling src/module_" + std::to_string(rng() % 997) +
           ".cc ";
    out.append(rng() % 60, static_cast<char>('a' + rng() % 26));
    out += '\n';
  }
  out.resize(size);
  return out;
}

// --- Opening and migrations ----------------------------------------------------------------

TEST_F(StoreTest, FreshDatabaseGetsTheSchemaOnceAndDataPersists) {
  EXPECT_TRUE(fs::exists(DbPath()));
  RequestRecord r;
  r.builder = "linux";
  r.properties = {{"branch", "main"}, {"n", 3}};
  r.source = {{"revision", "abc123"}};
  ASSERT_TRUE(store_->AddRequest(&r).ok());

  Reopen();
  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.builder, "linux");
  EXPECT_EQ(got.properties, r.properties);
  EXPECT_EQ(got.source, r.source);
  EXPECT_EQ(got.state, "queued");

  // The schema was applied exactly once: a further migration run finds nothing to do.
  store_.reset();
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(sql::OpenSqliteDb(DbPath(), &db).ok());
  int applied = -1;
  ASSERT_TRUE(sql::MigrateStore(db.get(), &applied).ok());
  EXPECT_EQ(applied, 0);
  sql::Query q;
  ASSERT_TRUE(db->Prepare("SELECT COUNT(*), MAX(version) FROM schema_version", &q).ok());
  bool row = false;
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_EQ(q.Int(0), sql::LatestSchemaVersion());
  EXPECT_EQ(q.Int(1), sql::LatestSchemaVersion());
}

TEST_F(StoreTest, MigrateAppliesEveryMigrationOnAnEmptyDatabase) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(sql::OpenSqliteDb((dir_ / "fresh.db").string(), &db).ok());
  int applied = -1;
  ASSERT_TRUE(sql::MigrateStore(db.get(), &applied).ok());
  EXPECT_EQ(applied, sql::LatestSchemaVersion());
  EXPECT_FALSE(db->InTransaction());
}

TEST_F(StoreTest, ConsumerResultsStoredBeforeMigration4MoveToTheStepsColumn) {
  BuildRecord b = NewBuild("consume:echo");
  StartStep(b.id, 0, "echo");
  StartStep(b.id, 1, "junit");
  // The state a store of schema 3 had: the result in step_tests, beside a JUnit row.
  ASSERT_TRUE(store_->SetStepTests(b.id, 0, Json{{"result_json", {{"n", 1}, {"s", "x"}}}}).ok());
  ASSERT_TRUE(store_->SetStepTests(b.id, 1, Json{{"total", 3}, {"failed", 0}}).ok());
  store_.reset();
  {
    std::unique_ptr<sql::Db> db;
    ASSERT_TRUE(sql::OpenSqliteDb(DbPath(), &db).ok());
    ASSERT_TRUE(db->Exec("ALTER TABLE steps DROP COLUMN result_json; "
                         "DELETE FROM schema_version WHERE version = 4")
                    .ok());
  }
  Reopen();  // migration 4 runs
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].result_json, (Json{{"n", 1}, {"s", "x"}}));
  EXPECT_TRUE(steps[1].result_json.is_null());
  std::vector<StepTestsRecord> tests;
  ASSERT_TRUE(store_->ListBuildTests(b.id, &tests).ok());
  ASSERT_EQ(tests.size(), 1u);  // the JUnit row stays, the moved result is gone
  EXPECT_EQ(tests[0].idx, 1);
  // And new results go straight to the column.
  ASSERT_TRUE(store_->SetStepResult(b.id, 1, Json::array({1, 2})).ok());
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  EXPECT_EQ(steps[1].result_json, Json::array({1, 2}));
  EXPECT_TRUE(store_->SetStepResult(b.id, 7, Json(1)).IsNotFound());
}

TEST_F(StoreTest, RefusesADatabaseFromANewerGrove) {
  store_.reset();
  {
    std::unique_ptr<sql::Db> db;
    ASSERT_TRUE(sql::OpenSqliteDb(DbPath(), &db).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO schema_version VALUES (9999, 0)").ok());
  }
  Status st = OpenStore("sqlite:state/grove.db", dir_.string(), &store_);
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
  EXPECT_NE(st.message().find("9999"), std::string::npos) << st.message();
}

TEST_F(StoreTest, AbsolutePathIgnoresBaseDir) {
  std::unique_ptr<Store> s;
  std::string path = (dir_ / "abs" / "x.db").string();
  ASSERT_TRUE(OpenStore("sqlite:" + path, "/nonexistent", &s).ok());
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(StoreTest, UnknownUrlSchemeIsAClearError) {
  std::unique_ptr<Store> s;
  Status st = OpenStore("mysql://grove@db/grove", dir_.string(), &s);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("'mysql'"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_EQ(s, nullptr);

  st = OpenStore("postgresql://grove:hunter2@db/grove", dir_.string(), &s);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("postgresql"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos) << "leaks the password";

  EXPECT_TRUE(OpenStore("grove.db", dir_.string(), &s).IsInvalid());
  EXPECT_TRUE(OpenStore("sqlite:", dir_.string(), &s).IsInvalid());
}

TEST_F(StoreTest, NotADatabaseIsAnIoError) {
  std::string path = (dir_ / "junk.db").string();
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("this is not an SQLite database, not even close; padding padding padding padding", f);
  fclose(f);
  std::unique_ptr<Store> s;
  Status st = OpenStore("sqlite:" + path, "", &s);
  EXPECT_EQ(st.code(), Status::Code::kIo) << st.ToString();
  EXPECT_NE(st.message().find("not a database"), std::string::npos) << st.message();
}

// --- Requests -------------------------------------------------------------------------------

TEST_F(StoreTest, QueuedRequestsComeByPriorityThenAge) {
  int64_t a = AddRequest("b", 0);
  int64_t b = AddRequest("b", 5);
  int64_t c = AddRequest("b", 0);
  int64_t d = AddRequest("b", 5);
  std::vector<RequestRecord> queued;
  ASSERT_TRUE(store_->ListRequests("queued", 10, &queued).ok());
  ASSERT_EQ(queued.size(), 4u);
  EXPECT_EQ(queued[0].id, b);
  EXPECT_EQ(queued[1].id, d);
  EXPECT_EQ(queued[2].id, a);
  EXPECT_EQ(queued[3].id, c);

  ASSERT_TRUE(store_->ListRequests("queued", 2, &queued).ok());
  EXPECT_EQ(queued.size(), 2u);
  ASSERT_TRUE(store_->ListRequests("queued", 0, &queued).ok());  // 0: no limit
  EXPECT_EQ(queued.size(), 4u);
  ASSERT_TRUE(store_->ListRequests("claimed", 10, &queued).ok());
  EXPECT_TRUE(queued.empty());
}

TEST_F(StoreTest, RequestLifecycle) {
  RequestRecord r;
  r.builder = "win32";
  r.submitted_at = 0;
  ASSERT_TRUE(store_->AddRequest(&r).ok());
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.state, "queued");
  EXPECT_GT(r.submitted_at, 0);  // filled in when 0

  int attempt = 0;
  ASSERT_TRUE(store_->ClaimRequest(r.id, "w1", 111, &attempt).ok());
  EXPECT_EQ(attempt, 1);
  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.state, "claimed");
  EXPECT_EQ(got.worker, "w1");
  EXPECT_EQ(got.claimed_at, 111);
  EXPECT_EQ(got.attempt, 1);

  // A claimed request cannot be claimed again.
  Status st = store_->ClaimRequest(r.id, "w2", 112, &attempt);
  EXPECT_TRUE(st.IsConflict()) << st.ToString();
  EXPECT_NE(st.message().find("claimed"), std::string::npos);

  // Lost worker: back to the queue, and the next claim is attempt 2.
  ASSERT_TRUE(store_->RequeueRequest(r.id).ok());
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.state, "queued");
  EXPECT_EQ(got.worker, "");
  EXPECT_TRUE(store_->RequeueRequest(r.id).IsConflict());
  ASSERT_TRUE(store_->ClaimRequest(r.id, "w2", 113, &attempt).ok());
  EXPECT_EQ(attempt, 2);

  ASSERT_TRUE(store_->FinishRequest(r.id, Result::kWarnings, 222).ok());
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.state, "finished");
  EXPECT_EQ(got.result, static_cast<int>(Result::kWarnings));
  EXPECT_EQ(got.finished_at, 222);
  EXPECT_TRUE(store_->ClaimRequest(r.id, "w1", 300, &attempt).IsConflict());
  EXPECT_TRUE(store_->RequeueRequest(r.id).IsConflict());

  EXPECT_TRUE(store_->GetRequest(9999, &got).IsNotFound());
  EXPECT_TRUE(store_->ClaimRequest(9999, "w1", 1, &attempt).IsNotFound());
  EXPECT_TRUE(store_->RequeueRequest(9999).IsNotFound());
  EXPECT_TRUE(store_->FinishRequest(9999, Result::kSuccess, 1).IsNotFound());

  RequestRecord bad;
  EXPECT_TRUE(store_->AddRequest(&bad).IsInvalid());
}

TEST_F(StoreTest, JsonWithInvalidUtf8IsStoredNotThrown) {
  RequestRecord r;
  r.builder = "b";
  r.properties = {{"line", std::string("bad \xff byte")}};
  ASSERT_TRUE(store_->AddRequest(&r).ok());
  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_TRUE(got.properties["line"].is_string());
}

// --- Builds ---------------------------------------------------------------------------------

TEST_F(StoreTest, StartBuildIsIdempotentAndNumbersPerBuilder) {
  BuildRecord a1 = NewBuild("linux");
  BuildRecord w1 = NewBuild("win32");
  BuildRecord a2 = NewBuild("linux");
  EXPECT_EQ(a1.number, 1);
  EXPECT_EQ(a2.number, 2);
  EXPECT_EQ(w1.number, 1);
  EXPECT_EQ(a1.state, "running");

  // The same (request, attempt) again: the existing build, no new number.
  BuildRecord again;
  again.request_id = a2.request_id;
  again.attempt = a2.attempt;
  again.builder = "linux";
  again.worker = "other";
  ASSERT_TRUE(store_->StartBuild(&again).ok());
  EXPECT_EQ(again.id, a2.id);
  EXPECT_EQ(again.number, 2);
  EXPECT_EQ(again.worker, "w1");
  EXPECT_EQ(NewBuild("linux").number, 3);

  // A second attempt of the same request is a new build with a new number.
  ASSERT_TRUE(store_->RequeueRequest(a1.request_id).ok());
  int attempt = 0;
  ASSERT_TRUE(store_->ClaimRequest(a1.request_id, "w2", 5, &attempt).ok());
  BuildRecord retry;
  retry.request_id = a1.request_id;
  retry.attempt = attempt;
  retry.builder = "linux";
  retry.properties = {{"buildername", "linux"}};
  ASSERT_TRUE(store_->StartBuild(&retry).ok());
  EXPECT_EQ(retry.number, 4);

  std::vector<BuildRecord> builds;
  ASSERT_TRUE(store_->BuildsOfRequest(a1.request_id, &builds).ok());
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].attempt, 1);
  EXPECT_EQ(builds[1].attempt, 2);
  EXPECT_EQ(builds[1].properties, retry.properties);

  BuildRecord found;
  ASSERT_TRUE(store_->FindBuild(a1.request_id, 2, &found).ok());
  EXPECT_EQ(found.id, retry.id);
  EXPECT_TRUE(store_->FindBuild(a1.request_id, 3, &found).IsNotFound());

  BuildRecord orphan;
  orphan.request_id = 12345;
  orphan.attempt = 1;
  orphan.builder = "linux";
  EXPECT_TRUE(store_->StartBuild(&orphan).IsNotFound());
  EXPECT_EQ(NewBuild("linux").number, 5);  // the failed start used no number
}

TEST_F(StoreTest, ListBuildsNewestFirstWithPaging) {
  for (int i = 0; i < 5; ++i) NewBuild("linux");
  NewBuild("win32");
  std::vector<BuildRecord> builds;
  ASSERT_TRUE(store_->ListBuilds("linux", 0, 3, &builds).ok());
  ASSERT_EQ(builds.size(), 3u);
  EXPECT_EQ(builds[0].number, 5);
  EXPECT_EQ(builds[2].number, 3);
  ASSERT_TRUE(store_->ListBuilds("linux", 3, 10, &builds).ok());
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].number, 2);
  EXPECT_EQ(builds[1].number, 1);
  ASSERT_TRUE(store_->ListBuilds("nope", 0, 10, &builds).ok());
  EXPECT_TRUE(builds.empty());
}

TEST_F(StoreTest, RunningBuildsAndFinishBuild) {
  BuildRecord a = NewBuild("linux");
  BuildRecord b = NewBuild("linux");
  std::vector<BuildRecord> running;
  ASSERT_TRUE(store_->RunningBuilds(&running).ok());
  EXPECT_EQ(running.size(), 2u);

  ASSERT_TRUE(store_->FinishBuild(a.id, Result::kFailure, 5000).ok());
  ASSERT_TRUE(store_->RunningBuilds(&running).ok());
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, b.id);

  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(a.id, &got).ok());
  EXPECT_EQ(got.state, "finished");
  EXPECT_EQ(got.result, static_cast<int>(Result::kFailure));
  EXPECT_EQ(got.finished_at, 5000);
  EXPECT_EQ(got.started_at, 1000);
  EXPECT_TRUE(store_->GetBuild(999, &got).IsNotFound());
  EXPECT_TRUE(store_->FinishBuild(999, Result::kSuccess, 1).IsNotFound());
}

// --- Steps ----------------------------------------------------------------------------------

TEST_F(StoreTest, Steps) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 1, "compile");
  StartStep(b.id, 0, "checkout");
  StartStep(b.id, 0, "renamed");  // repeated: ignored
  ASSERT_TRUE(store_->FinishStep(b.id, 0, Result::kSuccess, 3000).ok());

  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].idx, 0);
  EXPECT_EQ(steps[0].name, "checkout");
  EXPECT_EQ(steps[0].state, "finished");
  EXPECT_EQ(steps[0].result, 0);
  EXPECT_EQ(steps[0].finished_at, 3000);
  EXPECT_EQ(steps[1].name, "compile");
  EXPECT_EQ(steps[1].state, "running");
  EXPECT_EQ(steps[1].result, -1);

  StepRecord s;
  s.build_id = 999;
  EXPECT_TRUE(store_->StartStep(s).IsNotFound());
  EXPECT_TRUE(store_->FinishStep(b.id, 7, Result::kSuccess, 1).IsNotFound());
  ASSERT_TRUE(store_->ListSteps(999, &steps).ok());
  EXPECT_TRUE(steps.empty());
}

// --- Logs -----------------------------------------------------------------------------------

TEST_F(StoreTest, AppendLogIgnoresARepeatedSeq) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "one\ntwo\n").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 1, "three").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "one\ntwo\n").ok());  // redelivered
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 1, "different").ok());   // same seq, ignored
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 2, "").ok());            // empty: nothing
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 3, " four\n").ok());

  int64_t total = 0;
  EXPECT_EQ(ReadAll(b.id, 0, &total), "one\ntwo\nthree four\n");
  EXPECT_EQ(total, 19);
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  EXPECT_EQ(steps[0].log_bytes, 19);
  EXPECT_EQ(steps[0].log_lines, 3);

  EXPECT_TRUE(store_->AppendLog(b.id, 5, 0, "x").IsNotFound());
  EXPECT_TRUE(store_->AppendLog(999, 0, 0, "x").IsNotFound());
  EXPECT_TRUE(store_->AppendLog(b.id, 0, -1, "x").IsInvalid());
}

TEST_F(StoreTest, ReadLogAtArbitraryOffsetsAcrossChunks) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  const std::string log = LogText(20000, 1);
  std::mt19937 rng(7);
  ASSERT_TRUE(store_->Begin().ok());
  int64_t seq = 0;
  for (size_t pos = 0; pos < log.size(); ++seq) {
    size_t n = std::min<size_t>(1 + rng() % 700, log.size() - pos);
    ASSERT_TRUE(store_->AppendLog(b.id, 0, seq, std::string_view(log).substr(pos, n)).ok());
    pos += n;
  }
  ASSERT_TRUE(store_->Commit().ok());

  EXPECT_EQ(ReadAll(b.id, 0), log);
  for (int i = 0; i < 500; ++i) {
    int64_t offset = rng() % (log.size() + 50);
    int64_t max = rng() % 3000;
    std::string out;
    int64_t total = -1;
    ASSERT_TRUE(store_->ReadLog(b.id, 0, offset, max, &out, &total).ok());
    EXPECT_EQ(total, static_cast<int64_t>(log.size()));
    std::string want = offset < static_cast<int64_t>(log.size()) ? log.substr(offset, max) : "";
    ASSERT_EQ(out, want) << "offset " << offset << " max " << max;
  }

  std::string out = "stale";
  int64_t total = -1;
  ASSERT_TRUE(store_->ReadLog(b.id, 0, log.size(), 100, &out, &total).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(total, static_cast<int64_t>(log.size()));
  ASSERT_TRUE(store_->ReadLog(b.id, 0, log.size() + 1000, 100, &out, &total).ok());
  EXPECT_EQ(out, "");
  EXPECT_TRUE(store_->ReadLog(b.id, 0, -1, 100, &out, &total).IsInvalid());
  EXPECT_TRUE(store_->ReadLog(b.id, 3, 0, 100, &out, &total).IsNotFound());

  // A step with no log yet.
  StartStep(b.id, 1);
  ASSERT_TRUE(store_->ReadLog(b.id, 1, 0, 100, &out, &total).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(total, 0);
}

TEST_F(StoreTest, LargeLogTailReadsOnlyTheLastChunks) {
  constexpr size_t kChunk = 64 * 1024;
  constexpr size_t kSize = 20 * 1024 * 1024 + 12345;  // a partial last chunk
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  const std::string log = LogText(kSize, 2);

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->Begin().ok());
  int64_t seq = 0;
  for (size_t pos = 0; pos < log.size(); pos += kChunk, ++seq) {
    ASSERT_TRUE(store_->AppendLog(b.id, 0, seq, std::string_view(log).substr(pos, kChunk)).ok());
    if (seq % 64 == 63) {  // batches, as the master commits
      ASSERT_TRUE(store_->Commit().ok());
      ASSERT_TRUE(store_->Begin().ok());
    }
  }
  ASSERT_TRUE(store_->Commit().ok());
  auto t1 = std::chrono::steady_clock::now();

  // Spoil every chunk but the last four: a read that touched them would fail to decompress.
  const int64_t keep_from = static_cast<int64_t>(log.size()) - 3 * kChunk - 12345;
  {
    std::unique_ptr<sql::Db> db;
    ASSERT_TRUE(sql::OpenSqliteDb(DbPath(), &db).ok());
    sql::Query q;
    ASSERT_TRUE(db->Prepare("UPDATE log_chunks SET data = $1 WHERE byte_offset < $2", &q).ok());
    ASSERT_TRUE(q.BindBlob(1, "garbage").Bind(2, keep_from).Run().ok());
  }

  const int64_t tail = 100 * 1024;
  std::string out;
  int64_t total = 0;
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->ReadLog(b.id, 0, log.size() - tail, tail, &out, &total).ok());
  auto t3 = std::chrono::steady_clock::now();
  EXPECT_EQ(total, static_cast<int64_t>(log.size()));
  ASSERT_EQ(out.size(), static_cast<size_t>(tail));
  EXPECT_TRUE(out == log.substr(log.size() - tail));

  // Reading from the start does reach the spoiled chunks, and says so.
  Status st = store_->ReadLog(b.id, 0, 0, 1000, &out, &total);
  EXPECT_EQ(st.code(), Status::Code::kIo) << st.ToString();

  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf(
      "  append %.1f MB in 64 KB chunks: %.0f ms (%.0f MB/s); tail read of %lld KB: %.3f ms\n",
      kSize / 1e6, ms(t1 - t0), kSize / 1e3 / ms(t1 - t0), static_cast<long long>(tail / 1024),
      ms(t3 - t2));
}

TEST(LogCodecTest, RoundTripAndCorruption) {
  LogCodec codec;
  std::string raw = LogText(100000, 3), frame, back;
  ASSERT_TRUE(codec.Compress(raw, &frame).ok());
  EXPECT_LT(frame.size(), raw.size() / 2);
  back = "prefix:";
  ASSERT_TRUE(codec.DecompressAppend(frame, raw.size(), &back).ok());
  EXPECT_EQ(back, "prefix:" + raw);
  EXPECT_FALSE(codec.DecompressAppend(frame, raw.size() + 1, &back).ok());
  EXPECT_FALSE(codec.DecompressAppend("garbage", 7, &back).ok());
  EXPECT_EQ(CountLines("a\nb\n\nc"), 3);
  EXPECT_EQ(CountLines(""), 0);
}

// --- Transactions ---------------------------------------------------------------------------

TEST_F(StoreTest, RollbackDiscardsAndCommitKeeps) {
  ASSERT_TRUE(store_->Begin().ok());
  int64_t gone = AddRequest("linux");
  BuildRecord b = NewBuild("linux");
  ASSERT_TRUE(store_->Rollback().ok());
  RequestRecord r;
  EXPECT_TRUE(store_->GetRequest(gone, &r).IsNotFound());
  BuildRecord got;
  EXPECT_TRUE(store_->GetBuild(b.id, &got).IsNotFound());
  // The rolled-back build number is handed out again: numbers follow committed builds.
  EXPECT_EQ(NewBuild("linux").number, 1);

  ASSERT_TRUE(store_->Begin().ok());
  int64_t kept = AddRequest("linux");
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(store_->GetRequest(kept, &r).ok());

  EXPECT_TRUE(store_->Commit().IsInvalid());
  EXPECT_TRUE(store_->Rollback().ok());  // nothing to undo
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_TRUE(store_->Begin().IsInvalid());
  ASSERT_TRUE(store_->Rollback().ok());
}

TEST_F(StoreTest, AFailedCallInABatchKeepsTheRestOfTheBatch) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "kept\n").ok());
  EXPECT_TRUE(store_->AppendLog(b.id, 9, 0, "no such step").IsNotFound());
  BuildRecord orphan;
  orphan.request_id = 777;
  orphan.attempt = 1;
  orphan.builder = "linux";
  EXPECT_TRUE(store_->StartBuild(&orphan).IsNotFound());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 1, "also kept\n").ok());
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_EQ(ReadAll(b.id, 0), "kept\nalso kept\n");
}

TEST_F(StoreTest, AppendLogRefusesAChunkAfterAGap) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  int64_t next = -1;
  ASSERT_TRUE(store_->NextLogSeq(b.id, 0, &next).ok());
  EXPECT_EQ(next, 0);
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "one\n").ok());
  // Chunk 1 did not come (yet): chunk 2 is not stored after the gap.
  Status st = store_->AppendLog(b.id, 0, 2, "three\n");
  EXPECT_TRUE(st.IsConflict()) << st.ToString();
  EXPECT_NE(st.message().find("arrived before chunk 1"), std::string::npos) << st.message();
  ASSERT_TRUE(store_->NextLogSeq(b.id, 0, &next).ok());
  EXPECT_EQ(next, 1);
  EXPECT_EQ(ReadAll(b.id, 0), "one\n");
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 1, "two\n").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 2, "three\n").ok());
  // An empty chunk takes its seq without adding bytes.
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 3, "").ok());
  ASSERT_TRUE(store_->NextLogSeq(b.id, 0, &next).ok());
  EXPECT_EQ(next, 4);
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 4, "four\n").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 3, "").ok());  // redelivered
  int64_t total = 0;
  EXPECT_EQ(ReadAll(b.id, 0, &total), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(total, 19);
  std::string part;
  ASSERT_TRUE(store_->ReadLog(b.id, 0, 8, 100, &part, &total).ok());
  EXPECT_EQ(part, "three\nfour\n");
}

TEST_F(StoreTest, AFullDiskDoomsTheWholeTransaction) {
  // SQLITE_FULL on demand: the database may not grow beyond a few more pages.
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(sql::OpenSqliteDb(DbPath(), &db).ok());
  ASSERT_TRUE(db->Exec("PRAGMA max_page_count = 200").ok());
  sql::Db* raw = db.get();
  std::unique_ptr<Store> store = NewSqlStore(std::move(db));
  ASSERT_TRUE(store->Begin().ok());
  RequestRecord small;
  small.builder = "linux";
  ASSERT_TRUE(store->AddRequest(&small).ok());
  RequestRecord big;
  big.builder = "linux";
  big.reason.assign(4 << 20, 'x');
  Status st = store->AddRequest(&big);
  EXPECT_EQ(st.code(), Status::Code::kIo) << st.ToString();
  // SQLite undid only that statement, but the batch is all or nothing: nothing more is done,
  // and the commit fails.
  EXPECT_FALSE(store->TransactionStatus().ok());
  RequestRecord later;
  later.builder = "linux";
  EXPECT_FALSE(store->AddRequest(&later).ok());
  EXPECT_FALSE(store->Commit().ok());
  ASSERT_TRUE(store->Rollback().ok());
  EXPECT_TRUE(store->TransactionStatus().ok());
  RequestRecord got;
  EXPECT_TRUE(store->GetRequest(small.id, &got).IsNotFound());
  // Space again: writes succeed.
  ASSERT_TRUE(raw->Exec("PRAGMA max_page_count = 100000").ok());
  ASSERT_TRUE(store->Begin().ok());
  ASSERT_TRUE(store->AddRequest(&big).ok());
  ASSERT_TRUE(store->Commit().ok());
  EXPECT_TRUE(store->GetRequest(big.id, &got).ok());
}

TEST_F(StoreTest, ReaderSeesOnlyCommittedWrites) {
  std::unique_ptr<Store> reader;
  ASSERT_TRUE(OpenStore("sqlite:state/grove.db", dir_.string(), &reader).ok());
  ASSERT_TRUE(store_->Begin().ok());
  int64_t id = AddRequest("linux");
  RequestRecord r;
  EXPECT_TRUE(reader->GetRequest(id, &r).IsNotFound());  // WAL: not blocked, not visible
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(reader->GetRequest(id, &r).ok());
}

// --- Workers --------------------------------------------------------------------------------

TEST_F(StoreTest, UpsertWorker) {
  WorkerRecord w;
  w.name = "win7";
  w.tags = {"win32", "py2"};
  w.capacity = 2;
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  w.connected = true;
  w.last_seen = 42;
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  WorkerRecord a;
  a.name = "alpha";
  ASSERT_TRUE(store_->UpsertWorker(a).ok());

  std::vector<WorkerRecord> workers;
  ASSERT_TRUE(store_->ListWorkers(&workers).ok());
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].name, "alpha");
  EXPECT_EQ(workers[1].name, "win7");
  EXPECT_EQ(workers[1].tags, w.tags);
  EXPECT_EQ(workers[1].capacity, 2);
  EXPECT_TRUE(workers[1].connected);
  EXPECT_FALSE(workers[1].paused);
  EXPECT_EQ(workers[1].last_seen, 42);

  EXPECT_TRUE(store_->UpsertWorker(WorkerRecord{}).IsInvalid());
}

// --- The SQL layer --------------------------------------------------------------------------

TEST_F(StoreTest, SqlParametersBindByNumberNotByOrderOfAppearance) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(sql::OpenSqliteDb((dir_ / "sql.db").string(), &db).ok());
  sql::Query q;
  ASSERT_TRUE(db->Prepare("SELECT $2 - $1, $1", &q).ok());
  q.Bind(1, 10).Bind(2, 3);
  bool row = false;
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_EQ(q.Int(0), -7);
  EXPECT_EQ(q.Int(1), 10);

  // A statement in use cannot be handed out twice; released, it can.
  sql::Query again;
  EXPECT_TRUE(db->Prepare("SELECT $2 - $1, $1", &again).IsInvalid());
  q.Reset();
  ASSERT_TRUE(db->Prepare("SELECT $2 - $1, $1", &again).ok());
  again.Bind(3, 1);
  EXPECT_TRUE(again.Step(&row).IsInvalid());  // no $3

  sql::Query bad;
  Status st = db->Prepare("SELECT * FROM no_such_table", &bad);
  EXPECT_EQ(st.code(), Status::Code::kIo);
  EXPECT_NE(st.message().find("no_such_table"), std::string::npos) << st.message();
  EXPECT_TRUE(db->Prepare("SELECT 1; SELECT 2", &bad).IsInvalid());
}

}  // namespace
}  // namespace grove
