// The store against real databases: SQLite files in a temporary directory and, when
// GROVE_TEST_PG_URL names a PostgreSQL server, a fresh PostgreSQL database per test.
#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/log_codec.h"
#include "store/migrations.h"
#include "store/pg_db.h"
#include "store/sql_db.h"
#include "store/sql_job_batch.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"
#include "store/store_copy.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

// The backends every store test runs on. PostgreSQL needs GROVE_TEST_PG_URL (scripts/test.sh
// starts a private server and sets it); each test gets a database of its own, dropped after.
enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "sqlite" : "postgres";
}

// |url| (postgresql://.../DB?...) naming database |db| instead.
std::string WithDatabase(const std::string& url, const std::string& db) {
  const size_t host = url.find("://");
  const size_t slash = url.find('/', host + 3);
  const size_t query = url.find('?', host + 3);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  std::string head = url.substr(0, std::min(slash, query));
  return head + "/" + db + tail;
}

// A database of its own on the test server, dropped (with any connection left) when done.
class PgTestDatabase {
 public:
  Status Create() {
    const char* base = std::getenv("GROVE_TEST_PG_URL");
    if (base == nullptr || *base == 0) return Status::NotFound("GROVE_TEST_PG_URL is not set");
    base_ = base;
    static int counter = 0;
    name_ = "grove_unit_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
    std::unique_ptr<sql::Db> admin;
    GROVE_RETURN_IF_ERROR(sql::OpenPostgresDb(base_, "", &admin));
    GROVE_RETURN_IF_ERROR(admin->Exec("CREATE DATABASE " + name_));
    url_ = WithDatabase(base_, name_);
    return Status::Ok();
  }
  ~PgTestDatabase() {
    if (url_.empty()) return;
    std::unique_ptr<sql::Db> admin;
    if (sql::OpenPostgresDb(base_, "", &admin).ok())
      (void)admin->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  const std::string& url() const { return url_; }

 private:
  std::string base_, name_, url_;
};

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    if (postgres()) {
      pg_ = std::make_unique<PgTestDatabase>();
      Status st = pg_->Create();
      if (st.IsNotFound()) GTEST_SKIP() << "PostgreSQL case skipped: " << st.message();
      ASSERT_TRUE(st.ok()) << st.ToString();
      url_ = pg_->url();
    } else {
      url_ = "sqlite:state/grove.db";
    }
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    pg_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  bool postgres() const { return GetParam() == Backend::kPostgres; }

  void Reopen() {
    store_.reset();
    Status st = OpenStore(url_, dir_.string(), &store_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::string DbPath() const { return (dir_ / "state" / "grove.db").string(); }

  // A plain SQL connection to the store's database.
  Status OpenDb(std::unique_ptr<sql::Db>* db) {
    return postgres() ? sql::OpenPostgresDb(url_, "", db) : sql::OpenSqliteDb(DbPath(), db);
  }
  // A SQL connection to a database of its own, empty.
  Status OpenEmptyDb(const std::string& name, std::unique_ptr<sql::Db>* db) {
    if (!postgres()) return sql::OpenSqliteDb((dir_ / (name + ".db")).string(), db);
    extra_.push_back(std::make_unique<PgTestDatabase>());
    GROVE_RETURN_IF_ERROR(extra_.back()->Create());
    return sql::OpenPostgresDb(extra_.back()->url(), "", db);
  }

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
  std::string url_;
  std::unique_ptr<PgTestDatabase> pg_;
  std::vector<std::unique_ptr<PgTestDatabase>> extra_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

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

TEST_P(StoreTest, FreshDatabaseGetsTheSchemaOnceAndDataPersists) {
  if (!postgres()) {
    EXPECT_TRUE(fs::exists(DbPath()));
  }
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
  ASSERT_TRUE(OpenDb(&db).ok());
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

TEST_P(StoreTest, MigrateAppliesEveryMigrationOnAnEmptyDatabase) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("fresh", &db).ok());
  int applied = -1;
  ASSERT_TRUE(sql::MigrateStore(db.get(), &applied).ok());
  EXPECT_EQ(applied, sql::LatestSchemaVersion());
  EXPECT_FALSE(db->InTransaction());
}

TEST_P(StoreTest, ConsumerResultsStoredBeforeMigration4MoveToTheStepsColumn) {
  BuildRecord b = NewBuild("consume:echo");
  StartStep(b.id, 0, "echo");
  StartStep(b.id, 1, "junit");
  // The state a store of schema 3 had: the result in step_tests, beside a JUnit row.
  ASSERT_TRUE(store_->SetStepTests(b.id, 0, Json{{"result_json", {{"n", 1}, {"s", "x"}}}}).ok());
  ASSERT_TRUE(store_->SetStepTests(b.id, 1, Json{{"total", 3}, {"failed", 0}}).ok());
  store_.reset();
  {
    std::unique_ptr<sql::Db> db;
    ASSERT_TRUE(OpenDb(&db).ok());
    ASSERT_TRUE(db->Exec("ALTER TABLE steps DROP COLUMN result_json; "
                         "DROP TABLE webhook_deliveries; DROP TABLE notifications; DROP INDEX "
                         "changes_by_branch; DROP TABLE masters; DROP TABLE leases; "
                         "DROP TABLE worker_events; "
                         "ALTER TABLE requests DROP COLUMN master; DROP TABLE cluster_keys; "
                         "DROP TABLE pool_instances; ALTER TABLE workers DROP COLUMN master; "
                         "DELETE FROM schema_version WHERE version >= 4")
                    .ok());
  }
  Reopen();  // migrations 4 to 11 run
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

// On-demand instances (issue 13) outlive the master that started them: a restarted master
// reads them back.
TEST_P(StoreTest, PoolInstancesAreKeptUntilDeleted) {
  PoolInstanceRecord r{"burst-1", "burst", "burst-1-1700000000000-1", "starting", 10, 11};
  ASSERT_TRUE(store_->PutPoolInstance(r).ok());
  r.state = "connected";
  r.updated_at = 12;
  ASSERT_TRUE(store_->PutPoolInstance(r).ok());  // replaced, not added
  ASSERT_TRUE(store_->PutPoolInstance({"burst-2", "burst", "b2", "stopping", 20, 21}).ok());
  Reopen();
  std::vector<PoolInstanceRecord> out;
  ASSERT_TRUE(store_->ListPoolInstances(&out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "burst-1");
  EXPECT_EQ(out[0].pool, "burst");
  EXPECT_EQ(out[0].instance, "burst-1-1700000000000-1");
  EXPECT_EQ(out[0].state, "connected");
  EXPECT_EQ(out[0].started_at, 10);
  EXPECT_EQ(out[0].updated_at, 12);
  EXPECT_EQ(out[1].state, "stopping");
  ASSERT_TRUE(store_->DeletePoolInstance("burst-1").ok());
  ASSERT_TRUE(store_->ListPoolInstances(&out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "burst-2");
  EXPECT_TRUE(store_->PutPoolInstance({}).IsInvalid());
}

// Several masters may try to fire one cron slot: only the write that moves last_fire forward
// succeeds, so the slot's requests are queued once.
TEST_P(StoreTest, AdvanceSchedulerStateOnlyMovesForward) {
  SchedulerState st;
  st.last_fire = 100;
  bool advanced = false;
  ASSERT_TRUE(store_->AdvanceSchedulerState("cron1", st, &advanced).ok());
  EXPECT_TRUE(advanced);  // none stored yet
  ASSERT_TRUE(store_->AdvanceSchedulerState("cron1", st, &advanced).ok());
  EXPECT_FALSE(advanced);  // the same slot again
  st.last_fire = 90;
  ASSERT_TRUE(store_->AdvanceSchedulerState("cron1", st, &advanced).ok());
  EXPECT_FALSE(advanced);
  st.last_fire = 102;
  st.data = Json{{"k", 1}};
  ASSERT_TRUE(store_->AdvanceSchedulerState("cron1", st, &advanced).ok());
  EXPECT_TRUE(advanced);
  SchedulerState back;
  ASSERT_TRUE(store_->GetSchedulerState("cron1", &back).ok());
  EXPECT_EQ(back.last_fire, 102);
  EXPECT_EQ(back.data, (Json{{"k", 1}}));
}

TEST_P(StoreTest, RefusesADatabaseFromANewerGrove) {
  store_.reset();
  {
    std::unique_ptr<sql::Db> db;
    ASSERT_TRUE(OpenDb(&db).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO schema_version VALUES (9999, 0)").ok());
  }
  Status st = OpenStore(url_, dir_.string(), &store_);
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
  EXPECT_NE(st.message().find("9999"), std::string::npos) << st.message();
}

TEST_P(StoreTest, AbsolutePathIgnoresBaseDir) {
  if (postgres()) GTEST_SKIP() << "SQLite file paths";
  std::unique_ptr<Store> s;
  std::string path = (dir_ / "abs" / "x.db").string();
  ASSERT_TRUE(OpenStore("sqlite:" + path, "/nonexistent", &s).ok());
  EXPECT_TRUE(fs::exists(path));
}

TEST_P(StoreTest, UnknownUrlSchemeIsAClearError) {
  if (postgres()) GTEST_SKIP() << "not about a backend";
  std::unique_ptr<Store> s;
  Status st = OpenStore("mysql://grove@db/grove", dir_.string(), &s);
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("'mysql'"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_EQ(s, nullptr);

  st = OpenStore("postgresql://grove:hunter2@", dir_.string(), &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("postgresql"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos) << "leaks the password";

  EXPECT_TRUE(OpenStore("grove.db", dir_.string(), &s).IsInvalid());
  EXPECT_TRUE(OpenStore("sqlite:", dir_.string(), &s).IsInvalid());
}

TEST_P(StoreTest, NotADatabaseIsAnIoError) {
  if (postgres()) GTEST_SKIP() << "SQLite files";
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

TEST_P(StoreTest, QueuedRequestsComeByPriorityThenAge) {
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

TEST_P(StoreTest, RequestLifecycle) {
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

TEST_P(StoreTest, JsonWithInvalidUtf8IsStoredNotThrown) {
  RequestRecord r;
  r.builder = "b";
  r.properties = {{"line", std::string("bad \xff byte")}};
  ASSERT_TRUE(store_->AddRequest(&r).ok());
  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_TRUE(got.properties["line"].is_string());
}

// --- Builds ---------------------------------------------------------------------------------

TEST_P(StoreTest, StartBuildIsIdempotentAndNumbersPerBuilder) {
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
  // buildnumber and buildid come from the build's columns; what was stored is kept as it is.
  Json expected = retry.properties;
  expected["buildnumber"] = 4;
  expected["buildid"] = retry.id;
  EXPECT_EQ(builds[1].properties, expected);
  // A value a step set wins over the column's.
  ASSERT_TRUE(store_->SetBuildProperties(retry.id, {{"buildnumber", "custom"}}).ok());
  BuildRecord custom;
  ASSERT_TRUE(store_->GetBuild(retry.id, &custom).ok());
  EXPECT_EQ(custom.properties["buildnumber"], "custom");
  EXPECT_EQ(custom.properties["buildid"], retry.id);

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

// The claim hands back the row (one statement on the dispatch path); a second claim is refused.
TEST_P(StoreTest, ClaimRequestRecordReturnsTheClaimedRow) {
  RequestRecord r;
  r.builder = "linux";
  r.reason = "test";
  r.properties = {{"a", 1}};
  r.source = {{"branch", "main"}};
  ASSERT_TRUE(store_->AddRequest(&r).ok());
  RequestRecord claimed;
  ASSERT_TRUE(store_->ClaimRequestRecord(r.id, "w1", 77, &claimed).ok());
  EXPECT_EQ(claimed.id, r.id);
  EXPECT_EQ(claimed.state, "claimed");
  EXPECT_EQ(claimed.attempt, 1);
  EXPECT_EQ(claimed.worker, "w1");
  EXPECT_EQ(claimed.claimed_at, 77);
  EXPECT_EQ(claimed.properties, r.properties);
  EXPECT_EQ(claimed.source, r.source);
  EXPECT_TRUE(store_->ClaimRequestRecord(r.id, "w2", 78, &claimed).IsConflict());
  EXPECT_TRUE(store_->ClaimRequestRecord(999999, "w2", 78, &claimed).IsNotFound());
}

// A request at its first attempt is claimed and its build started in one call (one statement
// on PostgreSQL): the same rows as a claim and a start; a request that is not queued at attempt
// 0 is refused with nothing changed, its builder's numbers untouched.
TEST_P(StoreTest, ClaimFreshRequestClaimsAndStartsTheBuild) {
  store_->SetMasterName("m1");
  RequestRecord r;
  r.builder = "linux";
  r.properties = {{"a", 1}};
  ASSERT_TRUE(store_->AddRequest(&r).ok());
  BuildRecord b;
  b.request_id = r.id;
  b.builder = "linux";
  b.worker = "w1";
  b.started_at = 42;
  b.properties = {{"a", 1}, {"buildername", "linux"}};
  ASSERT_TRUE(store_->ClaimFreshRequest(77, &b).ok());
  EXPECT_GT(b.id, 0);
  EXPECT_EQ(b.attempt, 1);
  EXPECT_EQ(b.number, 1);
  EXPECT_EQ(b.state, "running");

  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.state, "claimed");
  EXPECT_EQ(got.attempt, 1);
  EXPECT_EQ(got.worker, "w1");
  EXPECT_EQ(got.claimed_at, 77);
  std::vector<ClaimedRequest> claimed;
  ASSERT_TRUE(store_->ClaimedByOthers("m2", &claimed).ok());
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].master, "m1");
  BuildRecord stored;
  ASSERT_TRUE(store_->FindBuild(r.id, 1, &stored).ok());
  EXPECT_EQ(stored.id, b.id);
  EXPECT_EQ(stored.number, 1);
  EXPECT_EQ(stored.worker, "w1");
  EXPECT_EQ(stored.started_at, 42);
  EXPECT_EQ(stored.properties["a"], 1);
  EXPECT_EQ(stored.properties["buildnumber"], 1);

  // Claimed already: refused, no number taken.
  BuildRecord again = b;
  again.id = 0;
  EXPECT_TRUE(store_->ClaimFreshRequest(78, &again).IsConflict());
  // Requeued (attempt 1): not fresh any more; the usual claim takes it.
  ASSERT_TRUE(store_->FinishBuild(b.id, Result::kRetry, 80).ok());
  ASSERT_TRUE(store_->RequeueRequest(r.id).ok());
  BuildRecord requeued = b;
  requeued.id = 0;
  EXPECT_TRUE(store_->ClaimFreshRequest(81, &requeued).IsConflict());
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.state, "queued");
  EXPECT_EQ(got.attempt, 1);
  BuildRecord missing;
  missing.request_id = 999999;
  missing.builder = "linux";
  EXPECT_FALSE(store_->ClaimFreshRequest(82, &missing).ok());
  EXPECT_EQ(NewBuild("linux").number, 2);  // the refusals used no number
}

// A claim finds its request by the key however young the database was when PostgreSQL planned
// it (a prepared statement keeps its plan): through requests_by_state it walked every entry of
// the state it tests, the whole queue and the requests queued before (issue 14: a sixth of the
// server's CPU per trivial build in a 2,000-build burst, growing with the queue).
TEST_P(StoreTest, AClaimFindsItsRequestByTheKeyNotThroughTheQueue) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL's plans";
  std::unique_ptr<sql::Db> owned;
  ASSERT_TRUE(OpenMigratedDb(url_, dir_.string(), "", &owned).ok());
  sql::Db* db = owned.get();
  std::unique_ptr<Store> store = NewSqlStore(std::move(owned));
  auto add = [&](int n) {
    std::vector<RequestRecord> rs(n);
    for (auto& r : rs) r.builder = "linux";
    EXPECT_TRUE(store->AddRequests(&rs).ok());
    std::vector<int64_t> ids;
    for (const auto& r : rs) ids.push_back(r.id);
    return ids;
  };
  auto claim = [&](const std::vector<int64_t>& ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i % 2) {
        RequestRecord r;
        EXPECT_TRUE(store->ClaimRequestRecord(ids[i], "w1", 5, &r).ok());
        continue;
      }
      BuildRecord b;
      b.request_id = ids[i];
      b.builder = "linux";
      b.worker = "w1";
      EXPECT_TRUE(store->ClaimFreshRequest(5, &b).ok());
    }
  };
  claim(add(12));  // planned now, on a table of a few rows
  const std::vector<int64_t> queue = add(400);
  ASSERT_TRUE(store->Begin().ok());
  claim(std::vector<int64_t>(queue.begin(), queue.begin() + 100));
  // This transaction's scans of the index so far (the same connection: the store's).
  sql::Query q;
  ASSERT_TRUE(
      db->Prepare("SELECT pg_stat_get_xact_numscans('requests_by_state'::regclass)", &q).ok());
  bool row = false;
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_LT(q.Int(0), 10) << "claims of 100 requests went through requests_by_state";
  q.Reset();
  ASSERT_TRUE(store->Commit().ok());
}

// A request that runs at once: inserted claimed, with its build, in one call; the same rows
// as AddRequest then ClaimFreshRequest.
TEST_P(StoreTest, AddClaimedRequestInsertsItClaimedWithItsBuild) {
  store_->SetMasterName("m1");
  EXPECT_EQ(NewBuild("linux").number, 1);
  RequestRecord r;
  r.builder = "linux";
  r.reason = "forced";
  r.priority = 3;
  r.properties = {{"a", 1}};
  r.submitted_at = 40;
  BuildRecord b;
  b.builder = "linux";
  b.worker = "w1";
  b.started_at = 42;
  b.properties = {{"a", 1}, {"buildername", "linux"}};
  ASSERT_TRUE(store_->AddClaimedRequest(41, &r, &b).ok());
  EXPECT_GT(r.id, 0);
  EXPECT_EQ(r.state, "claimed");
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(b.request_id, r.id);
  EXPECT_GT(b.id, 0);
  EXPECT_EQ(b.attempt, 1);
  EXPECT_EQ(b.number, 2);
  EXPECT_EQ(b.state, "running");

  RequestRecord got;
  ASSERT_TRUE(store_->GetRequest(r.id, &got).ok());
  EXPECT_EQ(got.builder, "linux");
  EXPECT_EQ(got.reason, "forced");
  EXPECT_EQ(got.priority, 3);
  EXPECT_EQ(got.properties, (Json{{"a", 1}}));
  EXPECT_EQ(got.state, "claimed");
  EXPECT_EQ(got.attempt, 1);
  EXPECT_EQ(got.worker, "w1");
  EXPECT_EQ(got.submitted_at, 40);
  EXPECT_EQ(got.claimed_at, 41);
  std::vector<ClaimedRequest> claimed;
  ASSERT_TRUE(store_->ClaimedByOthers("m2", &claimed).ok());
  ASSERT_EQ(claimed.size(), 2u);  // the master that runs it is recorded with the claim
  EXPECT_EQ(claimed[1].id, r.id);
  EXPECT_EQ(claimed[1].master, "m1");
  std::vector<RequestRecord> queued;
  ASSERT_TRUE(store_->ListRequests("queued", 10, &queued).ok());
  EXPECT_TRUE(queued.empty());
  BuildRecord stored;
  ASSERT_TRUE(store_->FindBuild(r.id, 1, &stored).ok());
  EXPECT_EQ(stored.id, b.id);
  EXPECT_EQ(stored.number, 2);
  EXPECT_EQ(stored.worker, "w1");
  EXPECT_EQ(stored.state, "running");
  EXPECT_EQ(stored.started_at, 42);
  EXPECT_EQ(stored.properties["a"], 1);
  EXPECT_EQ(stored.properties["buildnumber"], 2);
  EXPECT_EQ(NewBuild("linux").number, 3);

  RequestRecord nameless;
  BuildRecord nb;
  nb.builder = "linux";
  EXPECT_EQ(store_->AddClaimedRequest(43, &nameless, &nb).code(), Status::Code::kInvalid);
}

// The end of a job in one call: the last step's, the build's (with its worker and properties
// or without) and the request's, each as its own call would write it.
TEST_P(StoreTest, FinishJobRowsEndsTheStepTheBuildAndTheRequest) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  JobEnd end;
  end.build_id = b.id;
  end.request_id = b.request_id;
  end.result = Result::kWarnings;
  end.now = 5000;
  end.step = 0;
  end.step_result = Result::kFailure;
  ASSERT_TRUE(store_->FinishJobRows(end).ok());
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].state, "finished");
  EXPECT_EQ(steps[0].result, static_cast<int>(Result::kFailure));
  EXPECT_EQ(steps[0].finished_at, 5000);
  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.state, "finished");
  EXPECT_EQ(got.result, static_cast<int>(Result::kWarnings));
  EXPECT_EQ(got.finished_at, 5000);
  RequestRecord req;
  ASSERT_TRUE(store_->GetRequest(b.request_id, &req).ok());
  EXPECT_EQ(req.state, "finished");
  EXPECT_EQ(req.result, static_cast<int>(Result::kWarnings));
  EXPECT_EQ(req.finished_at, 5000);

  // No step; the worker and properties with the build's end.
  BuildRecord other = NewBuild("linux");
  const std::string worker = "w9";
  const Json props = {{"workername", "w9"}, {"builddir", "/x"}};
  JobEnd adopt;
  adopt.build_id = other.id;
  adopt.request_id = other.request_id;
  adopt.result = Result::kSuccess;
  adopt.now = 6000;
  adopt.worker = &worker;
  adopt.properties = &props;
  ASSERT_TRUE(store_->FinishJobRows(adopt).ok());
  ASSERT_TRUE(store_->GetBuild(other.id, &got).ok());
  EXPECT_EQ(got.worker, "w9");
  EXPECT_EQ(got.properties["builddir"], "/x");
  EXPECT_EQ(got.state, "finished");
  EXPECT_EQ(got.result, static_cast<int>(Result::kSuccess));
  ASSERT_TRUE(store_->GetRequest(other.request_id, &req).ok());
  EXPECT_EQ(req.state, "finished");
  EXPECT_EQ(req.finished_at, 6000);

  // What is missing is named (and the rest still written).
  BuildRecord third = NewBuild("linux");
  JobEnd missing_step = end;
  missing_step.build_id = third.id;
  missing_step.request_id = third.request_id;
  missing_step.step = 7;
  EXPECT_TRUE(store_->FinishJobRows(missing_step).IsNotFound());
  ASSERT_TRUE(store_->GetRequest(third.request_id, &req).ok());
  EXPECT_EQ(req.state, "finished");
  JobEnd missing_build = end;
  missing_build.build_id = 999999;
  missing_build.step = -1;
  EXPECT_TRUE(store_->FinishJobRows(missing_build).IsNotFound());
}

// A job's start in one call: its first step and its build's worker and properties.
TEST_P(StoreTest, StartStepWithStartsTheStepAndAdoptsTheBuild) {
  BuildRecord b = NewBuild("linux");
  StepRecord s;
  s.build_id = b.id;
  s.idx = 0;
  s.name = "true";
  s.started_at = 3000;
  const Json props = {{"workername", "w7"}, {"builddir", "/b/linux"}};
  ASSERT_TRUE(store_->StartStepWith(s, "w7", props).ok());
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].name, "true");
  EXPECT_EQ(steps[0].state, "running");
  EXPECT_EQ(steps[0].started_at, 3000);
  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.worker, "w7");
  EXPECT_EQ(got.properties["builddir"], "/b/linux");
  EXPECT_EQ(got.state, "running");

  // Started before (a resend): the step stays as first started, the build takes the new values.
  StepRecord again = s;
  again.started_at = 3500;
  ASSERT_TRUE(store_->StartStepWith(again, "w8", {{"builddir", "/c"}}).ok());
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].started_at, 3000);
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.worker, "w8");

  StepRecord orphan = s;
  orphan.build_id = 999999;
  EXPECT_TRUE(store_->StartStepWith(orphan, "w7", props).IsNotFound());
  StepRecord negative = s;
  negative.idx = -1;
  EXPECT_FALSE(store_->StartStepWith(negative, "w7", props).ok());
}

// Inside the core loop's transaction a job's start is written as its end is (PostgreSQL: sent
// without waiting for its answer): seen by the transaction's next read, committed with it. A
// start for a missing build changes nothing and does not fail the batch (SQLite says so).
TEST_P(StoreTest, StartStepWithInATransactionIsSeenAndCommitted) {
  const BuildRecord b = NewBuild("linux");
  StepRecord s;
  s.build_id = b.id;
  s.name = "true";
  s.started_at = 3000;
  StepRecord orphan = s;
  orphan.build_id = 999999;
  ASSERT_TRUE(store_->Begin().ok());
  Status st = store_->StartStepWith(orphan, "w7", Json{{"builddir", "/x"}});
  EXPECT_TRUE(postgres() ? st.ok() : st.IsNotFound()) << st.ToString();
  ASSERT_TRUE(store_->StartStepWith(s, "w7", Json{{"builddir", "/b/linux"}}).ok());
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  StepRecord again = s;  // a resend, the transaction's last write: the step stays as started
  again.started_at = 3500;
  ASSERT_TRUE(store_->StartStepWith(again, "w8", Json{{"builddir", "/c"}}).ok());
  st = store_->Commit();
  ASSERT_TRUE(st.ok()) << st.ToString();
  Reopen();
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].state, "running");
  EXPECT_EQ(steps[0].started_at, 3000);
  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.worker, "w8");
  EXPECT_EQ(got.properties["builddir"], "/c");
  ASSERT_TRUE(store_->ListSteps(orphan.build_id, &steps).ok());
  EXPECT_TRUE(steps.empty());
}

// A batch of submissions is claimed in one statement and its builds numbered in one per
// builder: the same rows as one claim and one start each.
TEST_P(StoreTest, ClaimRequestRecordsAndStartBuildsTakeABatch) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 40; ++i) {
    RequestRecord r;
    r.builder = i % 4 == 3 ? "win32" : "linux";
    r.properties = {{"n", i}};
    ASSERT_TRUE(store_->AddRequest(&r).ok());
    ids.push_back(r.id);
  }
  // One of them is claimed already (by another master): left out, not an error.
  RequestRecord taken;
  ASSERT_TRUE(store_->ClaimRequestRecord(ids[5], "", 1, &taken).ok());
  std::vector<RequestRecord> claimed;
  ASSERT_TRUE(store_->ClaimRequestRecords(ids, "", 77, &claimed).ok());
  ASSERT_EQ(claimed.size(), 39u);
  std::set<int64_t> seen;
  for (const RequestRecord& r : claimed) {
    EXPECT_NE(r.id, ids[5]);
    EXPECT_EQ(r.state, "claimed");
    EXPECT_EQ(r.attempt, 1);
    EXPECT_EQ(r.claimed_at, 77);
    EXPECT_EQ(r.properties["n"], r.id - ids[0]);
    seen.insert(r.id);
  }
  EXPECT_EQ(seen.size(), 39u);
  ASSERT_TRUE(store_->ClaimRequestRecords(ids, "", 78, &claimed).ok());
  EXPECT_TRUE(claimed.empty());

  BuildRecord first = NewBuild("linux");  // number 1
  std::vector<BuildRecord> builds;
  for (int64_t id : {ids[0], ids[1], ids[3], ids[2], ids[7]}) {
    BuildRecord b;
    b.request_id = id;
    b.attempt = 1;
    b.builder = (id - ids[0]) % 4 == 3 ? "win32" : "linux";
    b.properties = {{"k", id}};
    builds.push_back(b);
  }
  builds.push_back(builds[1]);  // an attempt that has its build (the one just before)
  BuildRecord orphan;
  orphan.request_id = 999999;
  orphan.attempt = 1;
  orphan.builder = "linux";
  builds.push_back(orphan);
  ASSERT_TRUE(store_->StartBuilds(&builds).ok());
  std::vector<int64_t> numbers;
  for (const BuildRecord& b : builds) numbers.push_back(b.number);
  EXPECT_EQ(numbers[0], 2);
  EXPECT_EQ(numbers[1], 3);
  EXPECT_EQ(numbers[2], 1);  // win32's first
  EXPECT_EQ(numbers[3], 4);
  EXPECT_EQ(numbers[4], 2);  // win32's second
  EXPECT_EQ(builds[5].id, builds[1].id);
  EXPECT_EQ(builds[5].number, 3);
  EXPECT_EQ(builds[6].id, 0);
  BuildRecord stored;
  ASSERT_TRUE(store_->GetBuild(builds[3].id, &stored).ok());
  EXPECT_EQ(stored.request_id, ids[2]);
  EXPECT_EQ(stored.number, 4);
  EXPECT_EQ(stored.properties["k"], ids[2]);
  // The numbers the repeated and the orphan start took stay unused: the next is after them.
  EXPECT_EQ(NewBuild("linux").number, 7);
  EXPECT_NE(first.id, 0);
}

// A batch this master inserted is claimed without its rows coming back: only the requests
// still queued at attempt 0 are claimed, and their builds start 32, 8 and 1 rows per statement.
TEST_P(StoreTest, ClaimFreshRequestsAndManyBuildsInFewStatements) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 45; ++i) ids.push_back(AddRequest(i % 5 == 4 ? "win32" : "linux"));
  RequestRecord taken;  // claimed before (another master): left out
  ASSERT_TRUE(store_->ClaimRequestRecord(ids[3], "", 1, &taken).ok());
  std::vector<int64_t> claimed;
  ASSERT_TRUE(store_->ClaimFreshRequests(ids, "", 77, &claimed).ok());
  std::sort(claimed.begin(), claimed.end());
  std::vector<int64_t> want = ids;
  want.erase(want.begin() + 3);
  EXPECT_EQ(claimed, want);
  RequestRecord r;
  ASSERT_TRUE(store_->GetRequest(ids[10], &r).ok());
  EXPECT_EQ((std::pair{r.state, r.attempt}), (std::pair{std::string("claimed"), 1}));
  EXPECT_EQ(r.claimed_at, 77);
  ASSERT_TRUE(store_->ClaimFreshRequests(ids, "", 78, &claimed).ok());
  EXPECT_TRUE(claimed.empty());  // none is queued any more

  std::vector<BuildRecord> builds;
  for (int64_t id : want) {
    BuildRecord b;
    b.request_id = id;
    b.attempt = 1;
    b.builder = (id - ids[0]) % 5 == 4 ? "win32" : "linux";  // numbered apart, same numbers
    b.properties = {{"k", id}};
    builds.push_back(b);
  }
  builds[20] = builds[5];  // twice in one statement: the second gets the first's build
  ASSERT_TRUE(store_->StartBuilds(&builds).ok());
  for (size_t i = 0; i < builds.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_NE(builds[i].id, 0);
    BuildRecord stored;
    ASSERT_TRUE(store_->GetBuild(builds[i].id, &stored).ok());
    EXPECT_EQ(stored.request_id, builds[i].request_id);
    EXPECT_EQ(stored.number, builds[i].number);
    EXPECT_EQ(stored.builder, builds[i].builder);
    EXPECT_EQ(stored.properties["k"], builds[i].request_id);
  }
  EXPECT_EQ(builds[20].id, builds[5].id);
  EXPECT_EQ(builds[0].number, 1);
  EXPECT_EQ(builds[3].number, 1);  // ids[4], win32's first
}

// The ends of a batch of jobs: as RecordStep, FinishBuildWith and FinishRequest row by row.
TEST_P(StoreTest, TheEndsOfABatchOfJobsAreTheRowsOneByOneWouldBe) {
  std::vector<BuildRecord> bs;
  std::vector<StepRecord> steps;
  std::vector<Store::BuildEnd> ends;
  std::vector<int64_t> failed, succeeded;
  for (int i = 0; i < 41; ++i) {  // 32 + 8 + 1
    bs.push_back(NewBuild("linux"));
    StepRecord s;
    s.build_id = bs.back().id;
    s.name = "consume";
    s.result = i % 3 ? 0 : 2;
    s.started_at = 10;
    s.finished_at = 20 + i;
    if (i % 2) s.result_json = {{"n", i}};
    steps.push_back(s);
    ends.push_back({bs.back().id, i % 3 ? Result::kSuccess : Result::kFailure, 30 + i, "w9",
                    Json{{"workername", "w9"}, {"i", i}}});
    (i % 3 ? succeeded : failed).push_back(bs.back().request_id);
  }
  StartStep(bs[7].id, 0);  // started before (a resend): ended, result_json kept when none comes
  ASSERT_TRUE(store_->SetStepResult(bs[7].id, 0, Json{{"kept", true}}).ok());
  steps[7].result_json = nullptr;
  ASSERT_TRUE(store_->RecordSteps(steps).ok());
  ASSERT_TRUE(store_->FinishBuildsWith(ends).ok());
  ASSERT_TRUE(store_->FinishRequests(succeeded, Result::kSuccess, 500).ok());
  ASSERT_TRUE(store_->FinishRequests(failed, Result::kFailure, 501).ok());
  for (int i = 0; i < 41; ++i) {
    SCOPED_TRACE(i);
    std::vector<StepRecord> got;
    ASSERT_TRUE(store_->ListSteps(bs[i].id, &got).ok());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].state, "finished");
    EXPECT_EQ(got[0].result, i % 3 ? 0 : 2);
    EXPECT_EQ(got[0].finished_at, 20 + i);
    if (i == 7)
      EXPECT_EQ(got[0].result_json, (Json{{"kept", true}}));
    else if (i % 2)
      EXPECT_EQ(got[0].result_json, (Json{{"n", i}}));
    else
      EXPECT_TRUE(got[0].result_json.is_null());
    BuildRecord b;
    ASSERT_TRUE(store_->GetBuild(bs[i].id, &b).ok());
    EXPECT_EQ(b.state, "finished");
    EXPECT_EQ(b.result, static_cast<int>(i % 3 ? Result::kSuccess : Result::kFailure));
    EXPECT_EQ(b.finished_at, 30 + i);
    EXPECT_EQ(b.worker, "w9");
    EXPECT_EQ(b.properties["i"], i);
    RequestRecord r;
    ASSERT_TRUE(store_->GetRequest(bs[i].request_id, &r).ok());
    EXPECT_EQ(r.state, "finished");
    EXPECT_EQ(r.result, b.result);
    EXPECT_EQ(r.finished_at, i % 3 ? 500 : 501);
  }
  // One end alone (the shape of a batch of one: a plain UPDATE, no IN list nor FROM) ends
  // that row only.
  const BuildRecord alone = NewBuild("linux"), other = NewBuild("linux");
  ASSERT_TRUE(
      store_->FinishBuildsWith({{alone.id, Result::kSuccess, 700, "w8", Json{{"one", 1}}}}).ok());
  ASSERT_TRUE(store_->FinishRequests({alone.request_id}, Result::kSuccess, 701).ok());
  BuildRecord b;
  ASSERT_TRUE(store_->GetBuild(alone.id, &b).ok());
  EXPECT_EQ(b.state, "finished");
  EXPECT_EQ(b.finished_at, 700);
  EXPECT_EQ(b.worker, "w8");
  EXPECT_EQ(b.properties["one"], 1);
  ASSERT_TRUE(store_->GetBuild(other.id, &b).ok());
  EXPECT_NE(b.state, "finished");
  RequestRecord r;
  ASSERT_TRUE(store_->GetRequest(alone.request_id, &r).ok());
  EXPECT_EQ(r.state, "finished");
  EXPECT_EQ(r.finished_at, 701);
  ASSERT_TRUE(store_->GetRequest(other.request_id, &r).ok());
  EXPECT_NE(r.state, "finished");
}

// Inside a transaction (the core loop's batch) the ends are written as the master writes them:
// on PostgreSQL sent without waiting for their answers, which come with the next statement's
// (a read in the same transaction sees them) or with the commit's.
TEST_P(StoreTest, TheEndsOfABatchAreSeenInItsTransactionAndCommittedWithIt) {
  std::vector<BuildRecord> bs;
  for (int i = 0; i < 3; ++i) bs.push_back(NewBuild("linux"));
  auto end_of = [&](const BuildRecord& b, int64_t now) {
    StepRecord s;
    s.build_id = b.id;
    s.name = "true";
    s.result = 0;
    s.started_at = 10;
    s.finished_at = now;
    ASSERT_TRUE(store_->RecordSteps({s}).ok());
    ASSERT_TRUE(
        store_->FinishBuildsWith({{b.id, Result::kSuccess, now, "w2", Json{{"n", now}}}}).ok());
  };
  ASSERT_TRUE(store_->Begin().ok());
  end_of(bs[0], 100);
  ASSERT_TRUE(store_->FinishRequests({bs[0].request_id}, Result::kSuccess, 100).ok());
  RequestRecord r;
  ASSERT_TRUE(store_->GetRequest(bs[0].request_id, &r).ok());
  EXPECT_EQ(r.state, "finished");
  BuildRecord b;
  ASSERT_TRUE(store_->GetBuild(bs[0].id, &b).ok());
  EXPECT_EQ(b.state, "finished");
  // The transaction's last writes: their answers come with the commit's.
  end_of(bs[1], 200);
  end_of(bs[2], 200);
  ASSERT_TRUE(
      store_->FinishRequests({bs[1].request_id, bs[2].request_id}, Result::kSuccess, 200).ok());
  Status st = store_->Commit();
  ASSERT_TRUE(st.ok()) << st.ToString();
  Reopen();  // read back through a new connection: committed
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(store_->GetRequest(bs[i].request_id, &r).ok());
    EXPECT_EQ(r.state, "finished");
    EXPECT_EQ(r.finished_at, i ? 200 : 100);
    ASSERT_TRUE(store_->GetBuild(bs[i].id, &b).ok());
    EXPECT_EQ(b.state, "finished");
    EXPECT_EQ(b.worker, "w2");
    std::vector<StepRecord> steps;
    ASSERT_TRUE(store_->ListSteps(bs[i].id, &steps).ok());
    ASSERT_EQ(steps.size(), 1u);
    EXPECT_EQ(steps[0].state, "finished");
  }
}

// PostgreSQL ends a transaction at its first error: an end refused by the server fails the
// commit, whether its answer is read by the commit or by a statement after it, and nothing of
// the transaction stays. (SQLite refuses the statement at once and goes on.)
TEST_P(StoreTest, AnEndTheServerRefusesFailsItsTransactionOnPostgres) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL's transactions";
  StepRecord orphan;
  orphan.build_id = 999999;  // no such build: the steps' foreign key refuses it
  orphan.name = "true";
  orphan.finished_at = 5;
  for (bool read_after : {false, true}) {
    SCOPED_TRACE(read_after);
    ASSERT_TRUE(store_->Begin().ok());
    const int64_t id = AddRequest("linux");
    (void)store_->RecordSteps({orphan});
    if (read_after) {
      RequestRecord r;
      EXPECT_FALSE(store_->GetRequest(id, &r).ok());
    }
    Status st = store_->Commit();
    EXPECT_FALSE(st.ok()) << "a transaction with a refused write was committed";
    Reopen();
    RequestRecord r;
    EXPECT_TRUE(store_->GetRequest(id, &r).IsNotFound())
        << "the request of the failed batch stayed";
  }
}

// A batch that ends one request, or a few, finds each by its key however young the database:
// PostgreSQL plans a prepared statement once for its later runs, and an IN list of eight planned
// on a small table scanned the whole table every time after (one scan per trivial build, growing
// with the table).
TEST_P(StoreTest, EndingAFewRequestsAtATimeDoesNotScanTheRequests) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL's plans";
  std::vector<int64_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(AddRequest("linux"));
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenDb(&db).ok());
  ASSERT_TRUE(db->BeginWrite().ok());
  for (int64_t id : ids)
    ASSERT_TRUE(sql_job_batch::FinishRequests(*db, {id}, Result::kSuccess, 5).ok());
  // A batch that ended a few builds at once.
  for (size_t i = 0; i + 3 <= ids.size(); i += 3)
    ASSERT_TRUE(
        sql_job_batch::FinishRequests(*db, {ids[i], ids[i + 1], ids[i + 2]}, Result::kFailure, 6)
            .ok());
  sql::Query q;
  ASSERT_TRUE(db->Prepare("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables "
                          "WHERE relname = 'requests'",
                          &q)
                  .ok());
  bool row = false;
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_LT(q.Int(0), 10) << "scans of the whole requests table for 266 batches of ends";
  EXPECT_GE(q.Int(1), 390);
  q.Reset();
  ASSERT_TRUE(db->Commit().ok());
}

// Store::FinishJobs: every end of a batch in one call. A few ends (PostgreSQL: one statement per
// job, its step, build and request together) and many (several rows per statement), each with
// the three kinds of step: started and ended in the batch, started in an earlier one, none; a
// step of a build that goes on, and a second step of an ending build, go on their own.
TEST_P(StoreTest, FinishJobsEndsEachJobsStepBuildAndRequest) {
  for (int jobs : {3, 10}) {
    SCOPED_TRACE(jobs);
    std::vector<BuildRecord> bs;
    std::vector<StepRecord> steps;
    std::vector<Store::StepEnd> step_ends;
    std::vector<Store::BuildEnd> ends;
    for (int i = 0; i < jobs; ++i) {
      bs.push_back(NewBuild("linux"));
      const int64_t id = bs.back().id;
      if (i % 3 == 0) {  // started and ended in this batch: inserted finished
        StepRecord s;
        s.build_id = id;
        s.name = "true";
        s.result = 2;
        s.started_at = 10;
        s.finished_at = 40 + i;
        if (i == 0) s.result_json = {{"n", i}};
        steps.push_back(s);
      } else if (i % 3 == 1) {  // started in an earlier batch: ended
        StartStep(id, 0, "earlier");
        step_ends.push_back({id, 0, Result::kFailure, 50 + i});
      }
      ends.push_back({id, i % 2 ? Result::kSuccess : Result::kFailure, 60 + i, "w7",
                      Json{{"workername", "w7"}, {"i", i}}, bs.back().request_id});
    }
    // A second step of the first build, and a step of a build that goes on.
    StepRecord second;
    second.build_id = bs[0].id;
    second.idx = 1;
    second.name = "second";
    second.result = 0;
    second.finished_at = 70;
    steps.push_back(second);
    const BuildRecord goes_on = NewBuild("linux");
    StepRecord of_running = second;
    of_running.build_id = goes_on.id;
    of_running.idx = 0;
    steps.push_back(of_running);
    StartStep(goes_on.id, 1, "also running");
    step_ends.push_back({goes_on.id, 1, Result::kSuccess, 71});

    ASSERT_TRUE(store_->Begin().ok());
    Status st = store_->FinishJobs(steps, step_ends, ends);
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = store_->Commit();
    ASSERT_TRUE(st.ok()) << st.ToString();
    Reopen();  // read back through a new connection: committed
    for (int i = 0; i < jobs; ++i) {
      SCOPED_TRACE(i);
      std::vector<StepRecord> got;
      ASSERT_TRUE(store_->ListSteps(bs[i].id, &got).ok());
      ASSERT_EQ(got.size(), i == 0 ? 2u : i % 3 == 2 ? 0u : 1u);
      if (i % 3 == 0) {
        EXPECT_EQ(got[0].name, "true");
        EXPECT_EQ(got[0].state, "finished");
        EXPECT_EQ(got[0].result, 2);
        EXPECT_EQ(got[0].started_at, 10);
        EXPECT_EQ(got[0].finished_at, 40 + i);
        EXPECT_EQ(got[0].result_json, (i == 0 ? Json{{"n", 0}} : Json()));
      } else if (i % 3 == 1) {
        EXPECT_EQ(got[0].name, "earlier");
        EXPECT_EQ(got[0].state, "finished");
        EXPECT_EQ(got[0].result, static_cast<int>(Result::kFailure));
        EXPECT_EQ(got[0].started_at, 2000);
        EXPECT_EQ(got[0].finished_at, 50 + i);
      }
      if (i == 0) {
        EXPECT_EQ(got[1].name, "second");
        EXPECT_EQ(got[1].state, "finished");
        EXPECT_EQ(got[1].finished_at, 70);
      }
      BuildRecord b;
      ASSERT_TRUE(store_->GetBuild(bs[i].id, &b).ok());
      EXPECT_EQ(b.state, "finished");
      EXPECT_EQ(b.result, static_cast<int>(i % 2 ? Result::kSuccess : Result::kFailure));
      EXPECT_EQ(b.finished_at, 60 + i);
      EXPECT_EQ(b.worker, "w7");
      EXPECT_EQ(b.properties["i"], i);
      RequestRecord r;
      ASSERT_TRUE(store_->GetRequest(bs[i].request_id, &r).ok());
      EXPECT_EQ(r.state, "finished");
      EXPECT_EQ(r.result, b.result);
      EXPECT_EQ(r.finished_at, 60 + i);
    }
    BuildRecord b;
    ASSERT_TRUE(store_->GetBuild(goes_on.id, &b).ok());
    EXPECT_EQ(b.state, "running");
    RequestRecord r;
    ASSERT_TRUE(store_->GetRequest(goes_on.request_id, &r).ok());
    EXPECT_EQ(r.state, "claimed");
    std::vector<StepRecord> got;
    ASSERT_TRUE(store_->ListSteps(goes_on.id, &got).ok());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].state, "finished");
    EXPECT_EQ(got[0].finished_at, 70);
    EXPECT_EQ(got[1].state, "finished");
    EXPECT_EQ(got[1].finished_at, 71);
  }
}

// A refused end: SQLite reports a step that is not there and still makes the other writes;
// PostgreSQL (whose answers come with the commit's) fails the commit when the server refuses
// one, and nothing of the batch stays: it comes again whole.
TEST_P(StoreTest, FinishJobsWithARefusedEnd) {
  const BuildRecord b = NewBuild("linux");
  const Store::BuildEnd end{b.id, Result::kSuccess, 90, "w1", Json::object(), b.request_id};
  if (!postgres()) {
    Status st = store_->FinishJobs({}, {{b.id, 3, Result::kSuccess, 90}}, {end});
    EXPECT_TRUE(st.IsNotFound()) << st.ToString();
    BuildRecord got;
    ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
    EXPECT_EQ(got.state, "finished");
    RequestRecord r;
    ASSERT_TRUE(store_->GetRequest(b.request_id, &r).ok());
    EXPECT_EQ(r.state, "finished");
    return;
  }
  StepRecord orphan;
  orphan.build_id = 999999;  // no such build: the steps' foreign key refuses it
  orphan.name = "true";
  orphan.finished_at = 5;
  for (const Store::BuildEnd& bad :
       {Store::BuildEnd{999999, Result::kSuccess, 90, "w1", Json::object(), b.request_id}, end}) {
    // The refused row in the job's own statement (a step of a missing build), then in a
    // statement of its own after a good job's.
    const bool own = bad.id == 999999;
    SCOPED_TRACE(own);
    ASSERT_TRUE(store_->Begin().ok());
    const int64_t id = AddRequest("linux");
    (void)store_->FinishJobs({orphan}, {}, {bad});
    Status st = store_->Commit();
    EXPECT_FALSE(st.ok()) << "a batch with a refused end was committed";
    Reopen();
    RequestRecord r;
    EXPECT_TRUE(store_->GetRequest(id, &r).IsNotFound()) << "the failed batch's request stayed";
    ASSERT_TRUE(store_->GetRequest(b.request_id, &r).ok());
    EXPECT_EQ(r.state, "claimed");
    BuildRecord got;
    ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
    EXPECT_EQ(got.state, "running");
  }
}

// The statements of a job's end (PostgreSQL: kept planned for all their later runs) find each
// row by its key however young the database: no scan of the steps, builds or requests.
TEST_P(StoreTest, FinishJobsOneAtATimeScansNoTable) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL's plans";
  std::vector<BuildRecord> bs;
  for (int i = 0; i < 60; ++i) bs.push_back(NewBuild("linux"));
  for (int i = 0; i < 60; i += 3) StartStep(bs[i + 1].id, 0);
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenDb(&db).ok());
  ASSERT_TRUE(db->BeginWrite().ok());
  for (int i = 0; i < 60; ++i) {
    StepRecord s;
    s.build_id = bs[i].id;
    s.name = "true";
    s.finished_at = 5;
    std::vector<StepRecord> steps;
    std::vector<Store::StepEnd> step_ends;
    if (i % 3 == 0) steps.push_back(s);
    if (i % 3 == 1) step_ends.push_back({bs[i].id, 0, Result::kSuccess, 5});
    Status st = sql_job_batch::FinishFewJobs(
        *db, steps, step_ends,
        {{bs[i].id, Result::kSuccess, 5, "w1", Json::object(), bs[i].request_id}});
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  sql::Query q;
  ASSERT_TRUE(db->Prepare("SELECT relname, seq_scan FROM pg_stat_xact_user_tables "
                          "WHERE relname IN ('steps', 'builds', 'requests')",
                          &q)
                  .ok());
  int rows = 0;
  for (bool row = false; q.Step(&row).ok() && row;) {
    ++rows;
    EXPECT_LT(q.Int(1), 10) << "scans of the whole " << q.Text(0) << " table for 60 job ends";
  }
  EXPECT_EQ(rows, 3);
  q.Reset();
  ASSERT_TRUE(db->Commit().ok());
  for (const BuildRecord& b : bs) {
    RequestRecord r;
    ASSERT_TRUE(store_->GetRequest(b.request_id, &r).ok());
    EXPECT_EQ(r.state, "finished");
  }
}

// A batch of requests is inserted several rows per statement; the ids follow the batch's order.
TEST_P(StoreTest, AddRequestsGivesIdsInOrder) {
  std::vector<RequestRecord> rs(45);  // 32 + 8 + 5 one by one
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i].builder = i % 2 ? "linux" : "win32";
    rs[i].reason = "r" + std::to_string(i);
    rs[i].properties = {{"n", i}};
    rs[i].priority = static_cast<int>(i % 3);
  }
  ASSERT_TRUE(store_->AddRequests(&rs).ok());
  for (size_t i = 0; i < rs.size(); ++i) {
    if (i) {
      EXPECT_EQ(rs[i].id, rs[i - 1].id + 1);
    }
    RequestRecord got;
    ASSERT_TRUE(store_->GetRequest(rs[i].id, &got).ok());
    EXPECT_EQ(got.reason, "r" + std::to_string(i));
    EXPECT_EQ(got.properties["n"], i);
    EXPECT_EQ(got.builder, rs[i].builder);
    EXPECT_EQ(got.priority, static_cast<int>(i % 3));
    EXPECT_EQ(got.state, "queued");
    EXPECT_GT(got.submitted_at, 0);
  }
}

// Distributed mode: a batch of submissions the same transaction claims is inserted claimed
// (attempt 1, its master recorded as a claim records it), several rows per statement, ids in
// the batch's order; nothing of it is left queued, and its builds start and end as a claim's.
TEST_P(StoreTest, AddClaimedRequestsInsertsThemClaimed) {
  store_->SetMasterName("m1");
  std::vector<RequestRecord> rs(45);  // 32 + 8 + 5 one by one
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i].builder = "consume:echo";
    rs[i].reason = "r" + std::to_string(i);
    rs[i].properties = {{"n", i}};
    rs[i].priority = static_cast<int>(i % 3);
  }
  ASSERT_TRUE(store_->AddClaimedRequests(77, "", &rs).ok());
  for (size_t i = 0; i < rs.size(); ++i) {
    if (i) {
      EXPECT_EQ(rs[i].id, rs[i - 1].id + 1);
    }
    EXPECT_EQ(rs[i].state, "claimed");
    EXPECT_EQ(rs[i].attempt, 1);
    RequestRecord got;
    ASSERT_TRUE(store_->GetRequest(rs[i].id, &got).ok());
    EXPECT_EQ(got.reason, "r" + std::to_string(i));
    EXPECT_EQ(got.properties["n"], i);
    EXPECT_EQ(got.priority, static_cast<int>(i % 3));
    EXPECT_EQ(got.state, "claimed");
    EXPECT_EQ(got.attempt, 1);
    EXPECT_EQ(got.worker, "");
    EXPECT_EQ(got.claimed_at, 77);
    EXPECT_GT(got.submitted_at, 0);
  }
  std::vector<RequestRecord> listed;
  ASSERT_TRUE(store_->ListRequests("queued", 100, &listed).ok());
  EXPECT_TRUE(listed.empty());
  ASSERT_TRUE(store_->ListRequests("claimed", 100, &listed).ok());
  EXPECT_EQ(listed.size(), rs.size());
  std::vector<ClaimedRequest> others;
  ASSERT_TRUE(store_->ClaimedByOthers("m2", &others).ok());
  ASSERT_EQ(others.size(), rs.size());
  EXPECT_EQ(others[0].master, "m1");
  EXPECT_EQ(others[0].attempt, 1);
  // Claimed already: a claim of the queue's finds nothing to take.
  std::vector<int64_t> claimed;
  ASSERT_TRUE(store_->ClaimFreshRequests({rs[0].id, rs[1].id}, "", 78, &claimed).ok());
  EXPECT_TRUE(claimed.empty());
  int attempt = 0;
  EXPECT_EQ(store_->ClaimRequest(rs[0].id, "w1", 78, &attempt).code(), Status::Code::kConflict);

  std::vector<BuildRecord> builds(2);
  for (size_t i = 0; i < builds.size(); ++i) {
    builds[i].request_id = rs[i].id;
    builds[i].attempt = 1;
    builds[i].builder = "consume:echo";
    builds[i].state = "running";
  }
  ASSERT_TRUE(store_->StartBuilds(&builds).ok());
  EXPECT_GT(builds[0].id, 0);
  EXPECT_EQ(builds[1].number, builds[0].number + 1);
  ASSERT_TRUE(store_->FinishRequests({rs[0].id, rs[1].id}, Result::kSuccess, 90).ok());
  RequestRecord done;
  ASSERT_TRUE(store_->GetRequest(rs[1].id, &done).ok());
  EXPECT_EQ(done.state, "finished");

  std::vector<RequestRecord> nameless(1);
  EXPECT_EQ(store_->AddClaimedRequests(79, "", &nameless).code(), Status::Code::kInvalid);
}

// Distributed mode's adoption and a consume step's end: one write each, same result as two.
TEST_P(StoreTest, AdoptBuildAndFinishStepWithResult) {
  BuildRecord b = NewBuild("consume:echo");
  ASSERT_TRUE(store_->AdoptBuild(b.id, "w9", {{"workername", "w9"}, {"builddir", "/x"}}).ok());
  StartStep(b.id, 0);
  ASSERT_TRUE(store_->FinishStepWithResult(b.id, 0, Result::kSuccess, 3000, {{"n", 1}}).ok());
  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.worker, "w9");
  EXPECT_EQ(got.properties["builddir"], "/x");
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].state, "finished");
  EXPECT_EQ(steps[0].finished_at, 3000);
  EXPECT_EQ(steps[0].result_json, (Json{{"n", 1}}));
  EXPECT_TRUE(store_->AdoptBuild(999999, "w9", Json::object()).IsNotFound());
  EXPECT_TRUE(store_->FinishStepWithResult(b.id, 5, Result::kSuccess, 1, 1).IsNotFound());
}

// Merged events (docs/protocol.md): a step started and ended in one batch is one write, and so
// is a build's worker, properties and end; a resent end of a step stored before ends it again.
TEST_P(StoreTest, RecordStepAndFinishBuildWith) {
  BuildRecord b = NewBuild("consume:echo");
  StepRecord s;
  s.build_id = b.id;
  s.idx = 0;
  s.name = "consume";
  s.result = static_cast<int>(Result::kSuccess);
  s.started_at = 1000;
  s.finished_at = 2000;
  s.result_json = {{"n", 1}};
  ASSERT_TRUE(store_->RecordStep(s).ok());
  StepRecord plain = s;  // no result: none stored
  plain.idx = 1;
  plain.result_json = nullptr;
  ASSERT_TRUE(store_->RecordStep(plain).ok());
  // Started before (a resend): ended as FinishStep would, its result kept when none comes.
  StartStep(b.id, 2);
  StepRecord again = plain;
  again.idx = 2;
  again.result = static_cast<int>(Result::kFailure);
  ASSERT_TRUE(store_->RecordStep(again).ok());
  s.result_json = nullptr;
  s.finished_at = 2500;
  ASSERT_TRUE(store_->RecordStep(s).ok());
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].name, "consume");
  EXPECT_EQ(steps[0].state, "finished");
  EXPECT_EQ(steps[0].result, static_cast<int>(Result::kSuccess));
  EXPECT_EQ(steps[0].started_at, 1000);
  EXPECT_EQ(steps[0].finished_at, 2500);
  EXPECT_EQ(steps[0].result_json, (Json{{"n", 1}}));
  EXPECT_TRUE(steps[1].result_json.is_null());
  EXPECT_EQ(steps[2].state, "finished");
  EXPECT_EQ(steps[2].result, static_cast<int>(Result::kFailure));
  StepRecord orphan = plain;
  orphan.build_id = 999999;
  EXPECT_TRUE(store_->RecordStep(orphan).IsNotFound());

  ASSERT_TRUE(store_
                  ->FinishBuildWith(b.id, "w9", {{"workername", "w9"}, {"builddir", "/x"}},
                                    Result::kWarnings, 4000)
                  .ok());
  BuildRecord got;
  ASSERT_TRUE(store_->GetBuild(b.id, &got).ok());
  EXPECT_EQ(got.worker, "w9");
  EXPECT_EQ(got.state, "finished");
  EXPECT_EQ(got.result, static_cast<int>(Result::kWarnings));
  EXPECT_EQ(got.finished_at, 4000);
  EXPECT_EQ(got.properties["builddir"], "/x");
  EXPECT_TRUE(
      store_->FinishBuildWith(999999, "w9", Json::object(), Result::kSuccess, 1).IsNotFound());
}

TEST_P(StoreTest, ListBuildsNewestFirstWithPaging) {
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

TEST_P(StoreTest, RunningBuildsAndFinishBuild) {
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

TEST_P(StoreTest, Steps) {
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

TEST_P(StoreTest, AppendLogIgnoresARepeatedSeq) {
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

// The core loop appends a batch of workers' chunks in one transaction: a redelivered chunk,
// one that comes before its turn or one for a missing step is answered, and the rest of the
// batch still commits (on PostgreSQL an error inside the transaction would abort all of it).
TEST_P(StoreTest, RefusedChunksInABatchLeaveTheBatchWhole) {
  BuildRecord b = NewBuild("linux");
  StartStep(b.id, 0);
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "one\n").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 0, "one\n").ok());  // redelivered
  Status gap = store_->AppendLog(b.id, 0, 3, "three\n");
  EXPECT_TRUE(gap.IsConflict()) << gap.message();
  EXPECT_TRUE(store_->AppendLog(b.id, 4, 0, "x").IsNotFound());
  int64_t next = -1;
  ASSERT_TRUE(store_->NextLogSeq(b.id, 0, &next).ok());
  EXPECT_EQ(next, 1);
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 1, "").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 2, "two\n").ok());
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 3, "three\n").ok());
  ASSERT_TRUE(store_->TransactionStatus().ok());
  int64_t total = 0;
  EXPECT_EQ(ReadAll(b.id, 0, &total), "one\ntwo\nthree\n");  // read before the commit too
  ASSERT_TRUE(store_->AppendLog(b.id, 0, 4, "").ok());
  ASSERT_TRUE(store_->Commit().ok());

  EXPECT_EQ(ReadAll(b.id, 0, &total), "one\ntwo\nthree\n");
  std::vector<StepRecord> steps;
  ASSERT_TRUE(store_->ListSteps(b.id, &steps).ok());
  EXPECT_EQ(steps[0].log_bytes, 14);
  EXPECT_EQ(steps[0].log_lines, 3);
  ASSERT_TRUE(store_->NextLogSeq(b.id, 0, &next).ok());
  EXPECT_EQ(next, 5);
}

TEST_P(StoreTest, ReadLogAtArbitraryOffsetsAcrossChunks) {
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

TEST_P(StoreTest, LargeLogTailReadsOnlyTheLastChunks) {
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
    ASSERT_TRUE(OpenDb(&db).ok());
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

TEST_P(StoreTest, RollbackDiscardsAndCommitKeeps) {
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

TEST_P(StoreTest, AFailedCallInABatchKeepsTheRestOfTheBatch) {
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

TEST_P(StoreTest, AppendLogRefusesAChunkAfterAGap) {
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

TEST_P(StoreTest, AFullDiskDoomsTheWholeTransaction) {
  // SQLITE_FULL on demand: the database may not grow beyond a few more pages.
  if (postgres()) GTEST_SKIP() << "SQLite's max_page_count has no PostgreSQL counterpart";
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

TEST_P(StoreTest, ReaderSeesOnlyCommittedWrites) {
  std::unique_ptr<Store> reader;
  ASSERT_TRUE(OpenStore(url_, dir_.string(), &reader).ok());
  ASSERT_TRUE(store_->Begin().ok());
  int64_t id = AddRequest("linux");
  RequestRecord r;
  EXPECT_TRUE(reader->GetRequest(id, &r).IsNotFound());  // WAL: not blocked, not visible
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(reader->GetRequest(id, &r).ok());
}

// --- Workers --------------------------------------------------------------------------------

TEST_P(StoreTest, UpsertWorker) {
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

TEST_P(StoreTest, SqlParametersBindByNumberNotByOrderOfAppearance) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("sql", &db).ok());
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

  // PostgreSQL prepares a statement on its first run (with the bound values' types), so an
  // error in the SQL may come from Step() rather than Prepare().
  auto prepare_and_step = [&](const char* sql) {
    sql::Query bad;
    Status st = db->Prepare(sql, &bad);
    bool r = false;
    if (st.ok()) st = bad.Step(&r);
    return st;
  };
  Status st = prepare_and_step("SELECT * FROM no_such_table");
  EXPECT_EQ(st.code(), Status::Code::kIo);
  EXPECT_NE(st.message().find("no_such_table"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_FALSE(prepare_and_step("SELECT 1; SELECT 2").ok());
}

// The build path's writes say no RETURNING (SQLite builds a temporary table for each): an update
// reads how many rows it changed, an insert of one row its id.
TEST_P(StoreTest, SqlWritesCountTheirRowsAndInsertsTellTheirId) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("counting", &db).ok());
  const char* id_type =
      postgres() ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
  ASSERT_TRUE(
      db->Exec(std::string("CREATE TABLE t (id ") + id_type + ", name TEXT UNIQUE, n BIGINT)")
          .ok());
  constexpr std::string_view kInsert =
      "INSERT INTO t (name, n) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id";
  int64_t first = 0, second = 0, repeated = -1;
  for (auto [name, out] : {std::pair{"a", &first}, {"b", &second}, {"a", &repeated}}) {
    sql::Query q;
    ASSERT_TRUE(db->PrepareInsert(kInsert, &q).ok());
    ASSERT_TRUE(q.Bind(1, name).Bind(2, 1).RunInsert(out).ok());
  }
  EXPECT_GT(first, 0);
  EXPECT_GT(second, first);
  EXPECT_EQ(repeated, 0);  // nothing inserted: no id, not the previous insert's
  if (!postgres()) {       // PostgreSQL runs what it is given; SQLite has to strip RETURNING id
    sql::Query bad;
    EXPECT_TRUE(db->PrepareInsert("INSERT INTO t (name) VALUES ($1)", &bad).IsInvalid());
  }

  int64_t changed = -1;
  sql::Query all;
  ASSERT_TRUE(db->Prepare("UPDATE t SET n = n + 1", &all).ok());
  ASSERT_TRUE(all.RunCounting(&changed).ok());
  EXPECT_EQ(changed, 2);
  all.Reset();
  sql::Query none;
  ASSERT_TRUE(db->Prepare("UPDATE t SET n = 0 WHERE id = $1", &none).ok());
  ASSERT_TRUE(none.Bind(1, 999).RunCounting(&changed).ok());
  EXPECT_EQ(changed, 0);
  none.Reset();
  sql::Query one;
  ASSERT_TRUE(db->Prepare("UPDATE t SET n = 0 WHERE id = $1", &one).ok());
  ASSERT_TRUE(one.Bind(1, second).RunCounting(&changed).ok());
  EXPECT_EQ(changed, 1);
}

TEST_P(StoreTest, SqlValuesRoundTripExactly) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("values", &db).ok());
  const char* blob_type = postgres() ? "BYTEA" : "BLOB";
  ASSERT_TRUE(db->Exec(std::string("CREATE TABLE t (k BIGINT PRIMARY KEY, i BIGINT, s TEXT, b ") +
                       blob_type + ")")
                  .ok());
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += std::string("\0\0\xff", 3);
  const int64_t extremes[] = {std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max(), -1, 0, 1LL << 53 | 1};
  int64_t k = 0;
  for (int64_t v : extremes) {
    sql::Query q;
    ASSERT_TRUE(db->Prepare("INSERT INTO t (k, i, s, b) VALUES ($1, $2, $3, $4)", &q).ok());
    Status st = q.Bind(1, ++k).Bind(2, v).Bind(3, "héllo ✓").BindBlob(4, bytes).Run();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  {  // An empty blob is a blob, not NULL; a NULL is a NULL.
    sql::Query q;
    ASSERT_TRUE(db->Prepare("INSERT INTO t (k, i, s, b) VALUES ($1, $2, $3, $4)", &q).ok());
    ASSERT_TRUE(q.Bind(1, 100).BindNull(2).Bind(3, "").BindBlob(4, "").Run().ok());
  }
  sql::Query q;
  ASSERT_TRUE(db->Prepare("SELECT k, i, s, b FROM t ORDER BY k", &q).ok());
  bool row = false;
  for (int64_t v : extremes) {
    ASSERT_TRUE(q.Step(&row).ok());
    ASSERT_TRUE(row);
    EXPECT_EQ(q.Int(1), v);
    EXPECT_EQ(q.Text(2), "héllo ✓");
    EXPECT_TRUE(q.Blob(3) == bytes);
  }
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_TRUE(q.IsNull(1));
  EXPECT_FALSE(q.IsNull(2));
  EXPECT_FALSE(q.IsNull(3));
  EXPECT_EQ(q.Blob(3).size(), 0u);
  ASSERT_TRUE(q.Step(&row).ok());
  EXPECT_FALSE(row);
  q.Reset();
  // Aggregates: COUNT is BIGINT on both; SUM of BIGINTs is NUMERIC on PostgreSQL.
  ASSERT_TRUE(db->Prepare("SELECT COUNT(*), SUM(k), MAX(k) FROM t", &q).ok());
  ASSERT_TRUE(q.Step(&row).ok());
  ASSERT_TRUE(row);
  EXPECT_EQ(q.Int(0), 6);
  EXPECT_EQ(q.Int(1), 1 + 2 + 3 + 4 + 5 + 100);
  EXPECT_EQ(q.Int(2), 100);
}

TEST_P(StoreTest, TextTheServerWouldRefuseIsStoredWithReplacements) {
  // Change comments and author names come from git and may be in any encoding.
  ChangeRecord c;
  c.author = std::string("J\xe9r\xf4me <j@x>");  // Latin-1
  c.comments = std::string("nul \0 byte", 10);
  c.revision = "abc";
  Status st = store_->AddChange(&c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::vector<ChangeRecord> got;
  ASSERT_TRUE(store_->ListChanges(0, 10, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].revision, "abc");
  if (postgres()) {
    EXPECT_EQ(got[0].author, "J\xef\xbf\xbdr\xef\xbf\xbdme <j@x>");
    EXPECT_EQ(got[0].comments, "nul \xef\xbf\xbd byte");
  }
}

// Two masters (two connections) claiming the same request: exactly one gets it, the other
// waits for the first one's commit and then sees the request claimed.
TEST_P(StoreTest, ConcurrentClaimsOfOneRequestHaveOneWinner) {
  int64_t id = AddRequest("linux");
  std::unique_ptr<Store> other;
  ASSERT_TRUE(OpenStore(url_, dir_.string(), &other).ok());
  ASSERT_TRUE(store_->Begin().ok());
  int attempt = 0;
  ASSERT_TRUE(store_->ClaimRequest(id, "master-a", 1, &attempt).ok());
  Status other_st;
  std::thread t([&] {
    int a = 0;
    other_st = other->ClaimRequest(id, "master-b", 2, &a);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(store_->Commit().ok());
  t.join();
  EXPECT_TRUE(other_st.IsConflict()) << other_st.ToString();
  RequestRecord r;
  ASSERT_TRUE(other->GetRequest(id, &r).ok());
  EXPECT_EQ(r.worker, "master-a");
  EXPECT_EQ(r.attempt, 1);
}

// Two masters race to claim the same fresh request with its build: one wins, the other changes
// nothing (no build, no build number taken).
TEST_P(StoreTest, ConcurrentFreshClaimsOfOneRequestHaveOneWinner) {
  int64_t id = AddRequest("linux");
  std::unique_ptr<Store> other;
  ASSERT_TRUE(OpenStore(url_, dir_.string(), &other).ok());
  auto build_for = [id](const std::string& worker) {
    BuildRecord b;
    b.request_id = id;
    b.builder = "linux";
    b.worker = worker;
    return b;
  };
  ASSERT_TRUE(store_->Begin().ok());
  BuildRecord mine = build_for("w-a");
  ASSERT_TRUE(store_->ClaimFreshRequest(1, &mine).ok());
  Status other_st;
  BuildRecord theirs = build_for("w-b");
  std::thread t([&] { other_st = other->ClaimFreshRequest(2, &theirs); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(store_->Commit().ok());
  t.join();
  EXPECT_TRUE(other_st.IsConflict()) << other_st.ToString();
  std::vector<BuildRecord> builds;
  ASSERT_TRUE(other->BuildsOfRequest(id, &builds).ok());
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].worker, "w-a");
  EXPECT_EQ(builds[0].number, 1);
  EXPECT_EQ(NewBuild("linux").number, 2);
}

// Several masters (issue 10): a claim records its master; ownership moves only by conditional
// updates, and only the owner requeues; the token keys are stored once.
TEST_P(StoreTest, ClaimedRequestsHaveOneOwningMasterAtATime) {
  int64_t id = AddRequest("linux");
  store_->SetMasterName("alpha");
  int attempt = 0;
  ASSERT_TRUE(store_->ClaimRequest(id, "w1", 1, &attempt).ok());
  std::vector<ClaimedRequest> others;
  ASSERT_TRUE(store_->ClaimedByOthers("alpha", &others).ok());
  EXPECT_TRUE(others.empty());
  ASSERT_TRUE(store_->ClaimedByOthers("beta", &others).ok());
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].id, id);
  EXPECT_EQ(others[0].attempt, 1);
  EXPECT_EQ(others[0].worker, "w1");
  EXPECT_EQ(others[0].master, "alpha");

  bool moved = true;
  // Not run by w2, not owned by gamma, not this attempt: nothing moves.
  ASSERT_TRUE(store_->MoveRequest(id, 1, "w2", "", "beta", &moved).ok());
  EXPECT_FALSE(moved);
  ASSERT_TRUE(store_->MoveRequest(id, 1, "", "gamma", "beta", &moved).ok());
  EXPECT_FALSE(moved);
  ASSERT_TRUE(store_->MoveRequest(id, 2, "w1", "", "beta", &moved).ok());
  EXPECT_FALSE(moved);
  // Its worker came to beta: beta adopts it; alpha can no longer requeue it.
  ASSERT_TRUE(store_->MoveRequest(id, 1, "w1", "", "beta", &moved).ok());
  EXPECT_TRUE(moved);
  bool requeued = true;
  ASSERT_TRUE(store_->RequeueOwnedRequest(id, 1, "alpha", &requeued).ok());
  EXPECT_FALSE(requeued);
  RequestRecord r;
  ASSERT_TRUE(store_->GetRequest(id, &r).ok());
  EXPECT_EQ(r.state, "claimed");
  ASSERT_TRUE(store_->RequeueOwnedRequest(id, 1, "beta", &requeued).ok());
  EXPECT_TRUE(requeued);
  ASSERT_TRUE(store_->GetRequest(id, &r).ok());
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.worker, "");
  ASSERT_TRUE(store_->MoveRequest(id, 1, "", "", "gamma", &moved).ok());
  EXPECT_FALSE(moved);  // queued: nobody owns it

  int64_t urgent = AddRequest("deploy", 5);
  std::vector<RequestRecord> heads;
  ASSERT_TRUE(store_->QueuedHeads(10, &heads).ok());
  ASSERT_EQ(heads.size(), 2u);  // by priority, then id, as ListRequests
  EXPECT_EQ(heads[0].id, urgent);
  EXPECT_EQ(heads[0].builder, "deploy");
  EXPECT_EQ(heads[0].priority, 5);
  EXPECT_EQ(heads[1].id, id);
  ASSERT_TRUE(store_->QueuedHeads(1, &heads).ok());
  EXPECT_EQ(heads.size(), 1u);

  std::string key;
  ASSERT_TRUE(store_->SharedKey("job-token", "aaaa", &key).ok());
  EXPECT_EQ(key, "aaaa");
  ASSERT_TRUE(store_->SharedKey("job-token", "bbbb", &key).ok());
  EXPECT_EQ(key, "aaaa");  // the first one stays
}

TEST_P(StoreTest, LiveMastersAreThoseSeenSince) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenMigratedDb(url_, dir_.string(), "", &db).ok());
  ASSERT_TRUE(
      db->Exec("INSERT INTO masters (name, last_seen) VALUES ('old', 100), ('new', 900)").ok());
  std::vector<std::string> live;
  ASSERT_TRUE(store_->LiveMasters(500, &live).ok());
  EXPECT_EQ(live, std::vector<std::string>{"new"});
}

// A worker is recorded as its master's: only that master's close, or the restart of that master
// or of any when its master is gone, marks it disconnected (issue 10).
TEST_P(StoreTest, WorkersAreReleasedOnlyByTheirMasterOrWhenItIsGone) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenMigratedDb(url_, dir_.string(), "", &db).ok());
  ASSERT_TRUE(
      db->Exec("INSERT INTO masters (name, last_seen) VALUES ('gone', 100), ('b', 900)").ok());
  auto held = [](const std::string& name, const std::string& master) {
    WorkerRecord w;
    w.name = name;
    w.connected = true;
    w.last_seen = 50;
    w.master = master;
    return w;
  };
  ASSERT_TRUE(store_->UpsertWorker(held("w1", "a")).ok());
  ASSERT_TRUE(store_->UpsertWorker(held("w2", "b")).ok());
  ASSERT_TRUE(store_->UpsertWorker(held("w3", "gone")).ok());
  auto state = [&](const std::string& name) {
    std::vector<WorkerRecord> all;
    EXPECT_TRUE(store_->ListWorkers(&all).ok());
    for (const auto& w : all)
      if (w.name == name) return std::to_string(w.connected) + "|" + w.master;
    return std::string("none");
  };
  EXPECT_EQ(state("w2"), "1|b");

  // The close of an old connection to "a" leaves w2, connected to "b", alone.
  ASSERT_TRUE(store_->ReleaseWorker("w2", "a", 70).ok());
  EXPECT_EQ(state("w2"), "1|b");

  // "a" restarts: its own and the gone master's workers are reset, b's stays; new ones come in.
  for (const char* name : {"w1", "w2", "w3", "w4"}) {
    WorkerRecord w;
    w.name = name;
    w.tags = {"linux"};
    w.capacity = 3;
    ASSERT_TRUE(store_->ResetWorker(w, "a", 500).ok());
  }
  EXPECT_EQ(state("w1"), "0|");
  EXPECT_EQ(state("w2"), "1|b");
  EXPECT_EQ(state("w3"), "0|");
  EXPECT_EQ(state("w4"), "0|");
  std::vector<WorkerRecord> all;
  ASSERT_TRUE(store_->ListWorkers(&all).ok());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].capacity, 3);    // the configuration is recorded
  EXPECT_EQ(all[1].last_seen, 50);  // and when it was last seen is kept

  ASSERT_TRUE(store_->ReleaseWorker("w2", "b", 80).ok());
  EXPECT_EQ(state("w2"), "0|");
  ASSERT_TRUE(store_->ListWorkers(&all).ok());
  EXPECT_EQ(all[1].last_seen, 80);
  EXPECT_TRUE(store_->ResetWorker(WorkerRecord{}, "a", 0).IsInvalid());
}

// --- PostgreSQL: connections and transactions -------------------------------------------------

// Ends every other connection to the test's database, as a server restart would.
void KillOtherConnections(const std::string& url) {
  std::unique_ptr<sql::Db> admin;
  ASSERT_TRUE(sql::OpenPostgresDb(url, "", &admin).ok());
  ASSERT_TRUE(admin
                  ->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND pid <> pg_backend_pid()")
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

TEST_P(StoreTest, ALostConnectionIsUnavailableThenTheStoreReconnects) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL connections";
  const int64_t kept = AddRequest("linux");
  ASSERT_TRUE(store_->Begin().ok());
  const int64_t lost = AddRequest("linux");
  KillOtherConnections(url_);

  // Inside a transaction: every call fails as unavailable (the transaction is gone), and the
  // commit says so rather than succeeding.
  RequestRecord r;
  Status st = store_->GetRequest(kept, &r);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  RequestRecord more;
  more.builder = "linux";
  EXPECT_EQ(store_->AddRequest(&more).code(), Status::Code::kUnavailable);
  EXPECT_EQ(store_->Commit().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(store_->Rollback().ok());

  // Then the store reconnects by itself: the next call works.
  st = store_->GetRequest(kept, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(store_->GetRequest(lost, &r).IsNotFound());  // never committed

  // A read outside a transaction, and BEGIN, on a connection found dead are retried at once.
  KillOtherConnections(url_);
  st = store_->GetRequest(kept, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  KillOtherConnections(url_);
  st = store_->Begin();
  ASSERT_TRUE(st.ok()) << st.ToString();
  const int64_t after = AddRequest("linux");
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(store_->GetRequest(after, &r).ok());
}

// A row into table t (k BIGINT PRIMARY KEY), and t's row count: the transaction tests' probes.
Status InsertKey(sql::Db* db, int64_t k) {
  sql::Query q;
  Status st = db->Prepare("INSERT INTO t (k) VALUES ($1)", &q);
  return st.ok() ? q.Bind(1, k).Run() : st;
}

int64_t CountKeys(sql::Db* db) {
  sql::Query q;
  bool row = false;
  EXPECT_TRUE(db->Prepare("SELECT COUNT(*) FROM t", &q).ok());
  EXPECT_TRUE(q.Step(&row).ok());
  return q.Int(0);
}

TEST_P(StoreTest, AFailedStatementNeverCommitsHalfATransaction) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("half", &db).ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k BIGINT PRIMARY KEY)").ok());
  auto insert = [&](int64_t k) { return InsertKey(db.get(), k); };
  auto count = [&] { return CountKeys(db.get()); };
  // A failure inside a WriteScope is undone by its savepoint; the transaction goes on.
  ASSERT_TRUE(db->BeginWrite().ok());
  ASSERT_TRUE(insert(1).ok());
  {
    sql::WriteScope scope(db.get());
    ASSERT_TRUE(scope.Open().ok());
    EXPECT_TRUE(insert(1).IsConflict());
  }
  ASSERT_TRUE(insert(2).ok());
  ASSERT_TRUE(db->Commit().ok());
  EXPECT_EQ(count(), 2);

  // Outside a savepoint, SQLite fails the statement only and PostgreSQL the transaction; either
  // way a commit never reports success for writes that are not there.
  ASSERT_TRUE(db->BeginWrite().ok());
  ASSERT_TRUE(insert(3).ok());
  Status dup = insert(1);
  EXPECT_TRUE(dup.IsConflict()) << dup.ToString();
  (void)insert(4);
  Status st = db->Commit();
  if (st.ok()) {
    EXPECT_FALSE(postgres());
    EXPECT_EQ(count(), 4);
  } else {
    EXPECT_NE(st.message().find("duplicate key"), std::string::npos) << st.message();
    EXPECT_FALSE(db->InTransaction());
    EXPECT_EQ(count(), 2);
  }
}

// PostgreSQL sends a transaction's BEGIN with its first statement: a transaction that runs no
// statement commits (and rolls back) with nothing sent, a first statement that fails leaves the
// transaction failed as any other would, and the next one starts afresh.
TEST_P(StoreTest, TheFirstStatementOfATransactionCarriesItsBegin) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenEmptyDb("first", &db).ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k BIGINT PRIMARY KEY)").ok());
  auto insert = [&](int64_t k) { return InsertKey(db.get(), k); };
  auto count = [&] { return CountKeys(db.get()); };
  ASSERT_TRUE(db->BeginWrite().ok());
  EXPECT_TRUE(db->InTransaction());
  EXPECT_TRUE(db->Commit().ok());
  EXPECT_FALSE(db->InTransaction());
  ASSERT_TRUE(db->BeginWrite().ok());
  EXPECT_TRUE(db->Rollback().ok());

  ASSERT_TRUE(db->BeginWrite().ok());
  ASSERT_TRUE(insert(1).ok());
  ASSERT_TRUE(insert(2).ok());
  ASSERT_TRUE(db->Rollback().ok());
  EXPECT_EQ(count(), 0);  // both were in the transaction: rolled back together

  ASSERT_TRUE(insert(1).ok());  // autocommit
  ASSERT_TRUE(db->BeginWrite().ok());
  EXPECT_TRUE(insert(1).IsConflict());  // the first statement fails
  (void)insert(2);
  Status st = db->Commit();
  EXPECT_EQ(st.ok(), !postgres()) << st.ToString();
  EXPECT_FALSE(db->InTransaction());
  EXPECT_EQ(count(), postgres() ? 1 : 2);

  ASSERT_TRUE(db->BeginWrite().ok());
  ASSERT_TRUE(insert(3).ok());
  ASSERT_TRUE(db->Commit().ok());
  EXPECT_EQ(count(), postgres() ? 2 : 3);
}

TEST_P(StoreTest, PasswordGivenApartFromTheUrl) {
  if (!postgres()) GTEST_SKIP() << "PostgreSQL URLs";
  // postgresql://grove:PASSWORD@host... → postgresql://grove@host... and PASSWORD.
  const size_t colon = url_.find(':', url_.find("://") + 3);
  const size_t at = url_.find('@');
  ASSERT_TRUE(colon != std::string::npos && at != std::string::npos && colon < at);
  const std::string password = url_.substr(colon + 1, at - colon - 1);
  const std::string bare = url_.substr(0, colon) + url_.substr(at);
  std::unique_ptr<Store> s;
  Status st = OpenStore(bare, "", &s, "wrong-password");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("wrong-password"), std::string::npos) << st.message();
  st = OpenStore(bare, "", &s, password);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(RedactedStoreUrl(url_).find(password), std::string::npos);
  EXPECT_NE(RedactedStoreUrl(url_).find(":***@"), std::string::npos);
}

// --- Copying a store --------------------------------------------------------------------------

TEST_P(StoreTest, CopyCoversEveryTableOfTheSchema) {
  std::unique_ptr<sql::Db> db;
  ASSERT_TRUE(OpenDb(&db).ok());
  sql::Query q;
  ASSERT_TRUE(db->Prepare(postgres() ? "SELECT table_name FROM information_schema.tables WHERE "
                                       "table_schema = current_schema() ORDER BY 1"
                                     : "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                       "name NOT LIKE 'sqlite_%' ORDER BY 1",
                          &q)
                  .ok());
  std::vector<std::string> copied = CopiedTables();
  for (;;) {
    bool row = false;
    ASSERT_TRUE(q.Step(&row).ok());
    if (!row) break;
    std::string table(q.Text(0));
    if (table == "schema_version") continue;
    EXPECT_NE(std::find(copied.begin(), copied.end(), table), copied.end())
        << "table " << table << " is not copied by grove store copy (store_copy.cc)";
  }
}

TEST_P(StoreTest, CopyMovesTheWholeHistoryToTheOtherBackendAndBack) {
  // A history with a bit of everything.
  BuildRecord b1 = NewBuild("linux");
  BuildRecord b2 = NewBuild("win32");
  StartStep(b1.id, 0, "compile");
  StartStep(b1.id, 1, "test");
  const std::string log = LogText(300000, 5);
  for (int64_t seq = 0, pos = 0; pos < static_cast<int64_t>(log.size()); ++seq, pos += 40000)
    ASSERT_TRUE(store_->AppendLog(b1.id, 0, seq, std::string_view(log).substr(pos, 40000)).ok());
  ASSERT_TRUE(store_->FinishStep(b1.id, 0, Result::kSuccess, 3000).ok());
  ASSERT_TRUE(store_->SetStepTests(b1.id, 1, Json{{"total", 3}}).ok());
  ASSERT_TRUE(store_->SetStepResult(b1.id, 1, Json{{"answer", 42}}).ok());
  ASSERT_TRUE(store_->FinishBuild(b1.id, Result::kSuccess, 4000).ok());
  ArtifactRecord art{b1.id, "dist/app.zip", 1234, "ab12", 5000};
  ASSERT_TRUE(store_->PutArtifact(art).ok());
  ChangeRecord c;
  c.repository = "https://git.example/app.git";
  c.revision = "abc";
  c.files = {"a.cc", "b.cc"};
  ASSERT_TRUE(store_->AddChange(&c).ok());
  ASSERT_TRUE(store_->LinkRequestChanges(b1.request_id, {c.id}).ok());
  const int64_t old = AddRequest("linux");
  const int64_t newer = AddRequest("linux");
  ASSERT_TRUE(store_->SupersedeRequest(old, newer, 6000).ok());
  ASSERT_TRUE(store_->PutSchedulerState("nightly", {1700000000, Json{{"k", "v"}}}).ok());
  WorkerRecord w;
  w.name = "w1";
  w.tags = {"linux"};
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  store_.reset();

  // To the other backend (SQLite → PostgreSQL, PostgreSQL → SQLite; SQLite → SQLite without a
  // server), then back into a third, empty store.
  std::string other, back;
  if (postgres()) {
    other = "sqlite:" + (dir_ / "copy.db").string();
    extra_.push_back(std::make_unique<PgTestDatabase>());
    ASSERT_TRUE(extra_.back()->Create().ok());
    back = extra_.back()->url();
  } else {
    auto pg = std::make_unique<PgTestDatabase>();
    other = pg->Create().ok() ? pg->url() : "sqlite:" + (dir_ / "copy.db").string();
    if (!other.empty() && other.rfind("sqlite:", 0) != 0) extra_.push_back(std::move(pg));
    back = "sqlite:" + (dir_ / "back.db").string();
  }
  std::vector<TableCopy> there, again;
  Status st = CopyStore({url_, ""}, {other, ""}, dir_.string(), &there);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(there.size(), CopiedTables().size());
  st = CopyStore({other, ""}, {back, ""}, dir_.string(), &again);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (size_t i = 0; i < there.size(); ++i) {
    EXPECT_EQ(there[i].rows, again[i].rows) << there[i].table;
    EXPECT_EQ(there[i].checksum, again[i].checksum) << there[i].table;
  }
  auto rows_of = [&](const std::string& table) {
    for (const auto& t : there)
      if (t.table == table) return t.rows;
    return int64_t{-1};
  };
  EXPECT_EQ(rows_of("requests"), 4);
  EXPECT_EQ(rows_of("builds"), 2);
  EXPECT_EQ(rows_of("log_chunks"), 8);

  // A target with anything in it is refused, and left as it was.
  st = CopyStore({url_, ""}, {other, ""}, dir_.string(), &again);
  EXPECT_TRUE(st.IsInvalid()) << st.ToString();
  EXPECT_NE(st.message().find("not empty"), std::string::npos) << st.message();
  EXPECT_TRUE(CopyStore({url_, ""}, {url_, ""}, dir_.string(), &again).IsInvalid());

  // The copy reads back through the store as the original did.
  std::unique_ptr<Store> copy;
  ASSERT_TRUE(OpenStore(other, dir_.string(), &copy).ok());
  BuildRecord got;
  ASSERT_TRUE(copy->GetBuild(b1.id, &got).ok());
  EXPECT_EQ(got.number, 1);
  EXPECT_EQ(got.result, static_cast<int>(Result::kSuccess));
  std::string text;
  int64_t total = 0;
  ASSERT_TRUE(copy->ReadLog(b1.id, 0, 0, 1 << 20, &text, &total).ok());
  EXPECT_TRUE(text == log);
  std::vector<StepRecord> steps;
  ASSERT_TRUE(copy->ListSteps(b1.id, &steps).ok());
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1].result_json, (Json{{"answer", 42}}));
  EXPECT_TRUE(steps[0].result_json.is_null());
  ArtifactRecord a;
  ASSERT_TRUE(copy->GetArtifact(b1.id, "dist/app.zip", &a).ok());
  EXPECT_EQ(a.sha256, "ab12");
  std::vector<ChangeRecord> changes;
  ASSERT_TRUE(copy->ChangesOfRequest(b1.request_id, &changes).ok());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].files, c.files);
  int64_t by = 0;
  ASSERT_TRUE(copy->SupersededBy(old, &by).ok());
  EXPECT_EQ(by, newer);
  SchedulerState ss;
  ASSERT_TRUE(copy->GetSchedulerState("nightly", &ss).ok());
  EXPECT_EQ(ss.last_fire, 1700000000);
  // New rows get new ids and numbers after the copied ones.
  RequestRecord r;
  r.builder = "linux";
  ASSERT_TRUE(copy->AddRequest(&r).ok());
  EXPECT_GT(r.id, newer);
  int attempt = 0;
  ASSERT_TRUE(copy->ClaimRequest(r.id, "w1", 1, &attempt).ok());
  BuildRecord b3;
  b3.request_id = r.id;
  b3.attempt = attempt;
  b3.builder = "linux";
  ASSERT_TRUE(copy->StartBuild(&b3).ok());
  EXPECT_GT(b3.id, b2.id);
  EXPECT_EQ(b3.number, 2);
  ChangeRecord c2;
  ASSERT_TRUE(copy->AddChange(&c2).ok());
  EXPECT_GT(c2.id, c.id);
}

// Several masters in distributed mode (issue 10): the applied event ids of a worker process
// only move forward, and a second master's transaction applying the same events again gets
// Conflict (its batch is rolled back) even when both run at once.
TEST_P(StoreTest, AppliedEventsMoveForwardOnlyAndASecondMasterConflicts) {
  int64_t upto = 0;
  EXPECT_TRUE(store_->GetAppliedEvents("w1", "i1", &upto).IsNotFound());
  ASSERT_TRUE(store_->AdvanceAppliedEvents("w1", "i1", 5).ok());
  ASSERT_TRUE(store_->GetAppliedEvents("w1", "i1", &upto).ok());
  EXPECT_EQ(upto, 5);
  EXPECT_TRUE(store_->AdvanceAppliedEvents("w1", "i1", 5).IsConflict());
  EXPECT_TRUE(store_->AdvanceAppliedEvents("w1", "i1", 3).IsConflict());
  ASSERT_TRUE(store_->AdvanceAppliedEvents("w1", "i1", 9).ok());
  ASSERT_TRUE(store_->AdvanceAppliedEvents("w2", "j1", 2).ok());
  // A new process of the worker numbers its events from 1 again.
  ASSERT_TRUE(store_->AdvanceAppliedEvents("w1", "i2", 1).ok());
  EXPECT_TRUE(store_->GetAppliedEvents("w1", "i1", &upto).IsNotFound());
  ASSERT_TRUE(store_->GetAppliedEvents("w1", "i2", &upto).ok());
  EXPECT_EQ(upto, 1);
  ASSERT_TRUE(store_->GetAppliedEvents("w2", "j1", &upto).ok());
  EXPECT_EQ(upto, 2);

  // Two masters apply events 2..4 of i2 at once: the one that commits second gets Conflict.
  std::unique_ptr<Store> other;
  ASSERT_TRUE(OpenStore(url_, dir_.string(), &other).ok());
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->AdvanceAppliedEvents("w1", "i2", 4).ok());
  Status second;
  std::thread t([&] {
    Status st = other->Begin();
    if (st.ok()) st = other->AdvanceAppliedEvents("w1", "i2", 4);  // waits for the first
    second = st;
    (void)(st.ok() ? other->Commit() : other->Rollback());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(store_->Commit().ok());
  t.join();
  EXPECT_TRUE(second.IsConflict()) << second.ToString();
  ASSERT_TRUE(other->GetAppliedEvents("w1", "i2", &upto).ok());
  EXPECT_EQ(upto, 4);
}

TEST(StoreUrlTest, AServerThatIsDownIsUnavailableAndTheMessageHidesThePassword) {
  std::unique_ptr<Store> s;
  // Port 1 on loopback: nothing listens there.
  Status st = OpenStore("postgresql://grove:hunter2@127.0.0.1:1/grove?sslmode=disable", "", &s);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("postgresql://grove:***@127.0.0.1:1/grove"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(RedactedStoreUrl("postgres://u@h/db?password=hunter2&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(RedactedStoreUrl("sqlite:state/grove.db"), "sqlite:state/grove.db");
}

}  // namespace
}  // namespace grove
