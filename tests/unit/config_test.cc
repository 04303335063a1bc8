// Tests for the grove.lua loader: every config function, the defaults, secrets, and that every
// error names the right file and line.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A valid worker, so that builders in error tests have someone to run them. Line 1.
constexpr const char* kWorker = "worker \"w1\" { secret = \"s\", tags = { \"linux\" } }\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "grove_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes |content| to DIR/|name| (creating directories).
  void Write(const std::string& name, const std::string& content) {
    fs::path p = fs::path(dir_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }

  std::string ConfigPath() const { return (fs::path(dir_) / "grove.lua").string(); }

  Status Load(const std::string& lua) {
    Write("grove.lua", lua);
    config_ = Config();
    return LoadConfig(ConfigPath(), &config_);
  }

  // Loads |lua|, expects it to fail, and returns the message.
  std::string Error(const std::string& lua) {
    Status st = Load(lua);
    EXPECT_FALSE(st.ok()) << "config loaded, expected an error:\n" << lua;
    EXPECT_TRUE(st.IsInvalid()) << st.message();
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << "not one line: " << st.message();
    return st.message();
  }

  std::string dir_;
  Config config_;
};

TEST_F(ConfigTest, FullConfigLoadsEveryField) {
  Write("secrets/w1", "s3cret\n");
  Status st = Load(R"lua(project { name = "SysGrove", url = "https://sysgrove.example" }
store  "sqlite:state/grove.db"
broker "embedded"
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "hello" {
  tags = { "linux" },
  priority = 3, properties = { answer = 42, list = { 1, "two" }, nested = { ok = true } },
  steps = {
    shell { "echo hello", name = "greet" },
    shell { argv = { "make", "-j2" }, name = "build", env = { CC = "gcc", JOBS = 2 }, workdir = "src", timeout = "10m", halt_on_failure = false },
    shell { command = "true" },
  },
}
schedule.force { "force", builders = { "hello" } }
web { listen = "127.0.0.1:8010" }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const Config& c = config_;
  EXPECT_EQ(c.file, ConfigPath());
  EXPECT_EQ(c.base_dir, dir_);
  EXPECT_EQ(c.project_name, "SysGrove");
  EXPECT_EQ(c.project_url, "https://sysgrove.example");
  EXPECT_EQ(c.store_url, "sqlite:state/grove.db");
  EXPECT_EQ(c.broker_url, "embedded");
  EXPECT_EQ(c.web.listen, "127.0.0.1:8010");

  ASSERT_EQ(c.workers.size(), 1u);
  EXPECT_EQ(c.workers[0].name, "w1");
  EXPECT_EQ(c.workers[0].secret, "s3cret");
  EXPECT_EQ(c.workers[0].tags, std::vector<std::string>{"linux"});
  EXPECT_EQ(c.workers[0].capacity, 2);
  EXPECT_EQ(c.workers[0].where, "grove.lua:4");

  ASSERT_EQ(c.builders.size(), 1u);
  const BuilderConfig& b = c.builders[0];
  EXPECT_EQ(b.name, "hello");
  EXPECT_EQ(b.where, "grove.lua:5");
  EXPECT_EQ(b.tags, std::vector<std::string>{"linux"});
  EXPECT_TRUE(b.workers.empty());
  EXPECT_EQ(b.priority, 3);
  EXPECT_EQ(b.properties, Json::parse(R"({"answer":42,"list":[1,"two"],"nested":{"ok":true}})"));
  ASSERT_EQ(b.steps.size(), 3u);

  const StepSpec& greet = b.steps[0];
  EXPECT_EQ(greet.name, "greet");
  EXPECT_EQ(greet.type, "shell");
  EXPECT_EQ(greet.command, "echo hello");
  EXPECT_TRUE(greet.argv.empty());
  EXPECT_EQ(greet.timeout_s, 0);
  EXPECT_TRUE(greet.halt_on_failure);

  const StepSpec& build = b.steps[1];
  EXPECT_EQ(build.name, "build");
  EXPECT_EQ(build.command, "");
  EXPECT_EQ(build.argv, (std::vector<std::string>{"make", "-j2"}));
  EXPECT_EQ(build.env, (std::map<std::string, std::string>{{"CC", "gcc"}, {"JOBS", "2"}}));
  EXPECT_EQ(build.workdir, "src");
  EXPECT_EQ(build.timeout_s, 600);
  EXPECT_FALSE(build.halt_on_failure);

  EXPECT_EQ(b.steps[2].name, "shell");
  EXPECT_EQ(b.steps[2].command, "true");

  ASSERT_EQ(c.force_schedulers.size(), 1u);
  EXPECT_EQ(c.force_schedulers[0].name, "force");
  EXPECT_EQ(c.force_schedulers[0].builders, std::vector<std::string>{"hello"});
  EXPECT_EQ(c.force_schedulers[0].where, "grove.lua:14");

  EXPECT_EQ(c.FindBuilder("hello"), &c.builders[0]);
  EXPECT_EQ(c.FindBuilder("nope"), nullptr);
  EXPECT_EQ(c.FindWorker("w1"), &c.workers[0]);
  EXPECT_EQ(c.FindWorker("nope"), nullptr);
}

TEST_F(ConfigTest, Defaults) {
  Status st = Load(R"lua(worker "w1" { secret = "s" }
builder "b" { steps = { shell { "make" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.project_name, "Grove");
  EXPECT_EQ(config_.project_url, "");
  EXPECT_EQ(config_.store_url, "sqlite:state/grove.db");
  EXPECT_EQ(config_.broker_url, "embedded");
  EXPECT_EQ(config_.web.listen, "127.0.0.1:8010");
  ASSERT_EQ(config_.workers.size(), 1u);
  EXPECT_EQ(config_.workers[0].capacity, 1);
  EXPECT_TRUE(config_.workers[0].tags.empty());
  const BuilderConfig& b = config_.builders.at(0);
  EXPECT_EQ(b.priority, 0);
  EXPECT_EQ(b.properties, Json::object());
  EXPECT_TRUE(b.tags.empty());
  const StepSpec& s = b.steps.at(0);
  EXPECT_EQ(s.name, "shell");
  EXPECT_EQ(s.timeout_s, 0);
  EXPECT_TRUE(s.halt_on_failure);
  EXPECT_TRUE(s.env.empty());
  EXPECT_EQ(s.workdir, "");
  // No schedule.force: one named "force" covers every builder.
  ASSERT_EQ(config_.force_schedulers.size(), 1u);
  EXPECT_EQ(config_.force_schedulers[0].name, "force");
  EXPECT_EQ(config_.force_schedulers[0].builders, std::vector<std::string>{"b"});
}

TEST_F(ConfigTest, ForceSchedulerWithoutBuildersCoversAll) {
  Status st = Load(std::string(kWorker) + R"lua(schedule.force { "everything" }
builder "a" { steps = { shell { "a" } } }
builder "b" { steps = { shell { "b" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.force_schedulers.size(), 1u);
  EXPECT_EQ(config_.force_schedulers[0].name, "everything");
  EXPECT_EQ(config_.force_schedulers[0].builders, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigTest, LoopsAndFunctionsMakeBuilders) {
  Status st = Load(R"lua(local platforms = { "linux", "win32", "macos" }
for _, p in ipairs(platforms) do
  worker("w-" .. p) { secret = "s-" .. p, tags = { p } }
end

local function release(platform, extra)
  local steps = { shell { "./configure --target=" .. platform } }
  for i = 1, extra do
    steps[#steps + 1] = shell { string.format("make part%d", i), timeout = 60 * i }
  end
  return builder("release-" .. platform) { tags = { platform }, steps = steps }
end

for i, p in ipairs(platforms) do release(p, i) end
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config_.workers.size(), 3u);
  EXPECT_EQ(config_.workers[1].name, "w-win32");
  EXPECT_EQ(config_.workers[1].secret, "s-win32");
  EXPECT_EQ(config_.workers[1].where, "grove.lua:3");
  ASSERT_EQ(config_.builders.size(), 3u);
  const BuilderConfig& mac = config_.builders[2];
  EXPECT_EQ(mac.name, "release-macos");
  EXPECT_EQ(mac.where, "grove.lua:11");  // the builder call inside the function
  ASSERT_EQ(mac.steps.size(), 4u);
  EXPECT_EQ(mac.steps[0].command, "./configure --target=macos");
  EXPECT_EQ(mac.steps[3].command, "make part3");
  EXPECT_EQ(mac.steps[3].timeout_s, 180);
  // Unnamed steps are named after their type and made unique.
  EXPECT_EQ(mac.steps[0].name, "shell");
  EXPECT_EQ(mac.steps[1].name, "shell_2");
  EXPECT_EQ(mac.steps[3].name, "shell_4");
}

TEST_F(ConfigTest, StepTablesCanBeReusedAndAdjusted) {
  Status st = Load(std::string(kWorker) + R"lua(local test = shell { "make test", name = "test" }
local long = shell { "make check" }
long.timeout = "1h"
builder "a" { steps = { test, test, long } }
builder "b" { steps = { test, shell { "x", name = "test_2" }, shell { "y", name = "test" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const auto& a = config_.builders.at(0).steps;
  EXPECT_EQ(a.at(0).name, "test");
  EXPECT_EQ(a.at(1).name, "test_2");
  EXPECT_EQ(a.at(2).timeout_s, 3600);
  const auto& b = config_.builders.at(1).steps;
  EXPECT_EQ(b.at(0).name, "test");
  EXPECT_EQ(b.at(1).name, "test_2");
  EXPECT_EQ(b.at(2).name, "test_3");
}

TEST_F(ConfigTest, TimeoutForms) {
  Status st = Load(std::string(kWorker) + R"lua(builder "b" { steps = {
  shell { "a", timeout = 90 },
  shell { "b", timeout = "90s" },
  shell { "c", timeout = "1h30m" },
  shell { "d", timeout = "2d" },
} }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  const auto& s = config_.builders.at(0).steps;
  EXPECT_EQ(s.at(0).timeout_s, 90);
  EXPECT_EQ(s.at(1).timeout_s, 90);
  EXPECT_EQ(s.at(2).timeout_s, 5400);
  EXPECT_EQ(s.at(3).timeout_s, 172800);
}

TEST_F(ConfigTest, WorkersListAndOtherUrls) {
  Status st = Load(R"lua(store "postgresql://grove@db/grove"
broker "amqps://grove:pw@mq:5671/grove"
web { listen = "[::1]:0", max_connections = 64 }
worker "a" { secret = "s", tags = { "x" } }
worker "b" { secret = "s" }
builder "pinned" { workers = { "b" }, tags = { "gpu" }, steps = { shell { "nvidia-smi" } } }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.store_url, "postgresql://grove@db/grove");
  EXPECT_EQ(config_.broker_url, "amqps://grove:pw@mq:5671/grove");
  EXPECT_EQ(config_.web.listen, "[::1]:0");
  EXPECT_EQ(config_.web.max_connections, 64);
  EXPECT_EQ(config_.builders.at(0).workers, std::vector<std::string>{"b"});
}

TEST_F(ConfigTest, RequireLoadsModulesFromTheMasterDirectory) {
  Write("lib/platforms.lua", R"lua(local M = {}
function M.make(name)
  builder(name) { steps = { shell { "make " .. name } } }
end
function M.broken(name)
  builder(name) { stepz = {} }
end
return M
)lua");
  Status st = Load(std::string(kWorker) + R"lua(local platforms = require "lib.platforms"
platforms.make("lin")
assert(grove.base_dir ~= nil)
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.builders.at(0).name, "lin");
  EXPECT_EQ(config_.builders.at(0).where, "lib/platforms.lua:3");

  EXPECT_THAT(Error(std::string(kWorker) + R"lua(local platforms = require "lib.platforms"
platforms.broken("x")
)lua"),
              StartsWith("lib/platforms.lua:6: unknown option 'stepz' in builder 'x' "
                         "(did you mean 'steps'?)"));

  Write("bad.lua", "local x = = 1\n");
  EXPECT_THAT(Error("require 'bad'\n"), StartsWith("bad.lua:1: unexpected symbol near '='"));
}

TEST_F(ConfigTest, StoreTableTakesThePasswordFromASecret) {
  Write("secrets/db", "db-pass\n");
  Status st = Load(
      "store { url = \"postgres://grove@db:5433/grove?sslmode=require\", password = secret \"db\" "
      "}\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.store_url, "postgres://grove@db:5433/grove?sslmode=require");
  EXPECT_EQ(config_.store_password, "db-pass");

  EXPECT_THAT(Error("store { password = \"x\" }\n"),
              StartsWith("grove.lua:1: missing required option 'url' in store"));
  EXPECT_THAT(Error("store { url = \"sqlite:x.db\", password = \"x\" }\n"),
              HasSubstr("a password is for a PostgreSQL store"));
  // A malformed URL is refused without echoing its password.
  std::string message = Error("store \"mysql://grove:hunter2@db/grove\"\n");
  EXPECT_THAT(message, HasSubstr("invalid store"));
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
}

TEST_F(ConfigTest, SecretFromFileStripsTrailingNewline) {
  Write("secrets/w1", "from-file \r\n");
  ASSERT_TRUE(Load("worker \"w1\" { secret = secret \"w1\" }\n").ok());
  EXPECT_EQ(config_.workers.at(0).secret, "from-file");
}

TEST_F(ConfigTest, SecretFromEnvironment) {
  setenv("GROVE_SECRET_MY_WORKER_2", "from-env", 1);
  Status st = Load("worker \"w\" { secret = secret \"my-worker_2\" }\n");
  unsetenv("GROVE_SECRET_MY_WORKER_2");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.workers.at(0).secret, "from-env");
}

TEST_F(ConfigTest, SecretFileWinsOverEnvironment) {
  Write("secrets/w1", "from-file\n");
  setenv("GROVE_SECRET_W1", "from-env", 1);
  Status st = Load("worker \"w1\" { secret = secret \"w1\" }\n");
  unsetenv("GROVE_SECRET_W1");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.workers.at(0).secret, "from-file");
}

TEST_F(ConfigTest, MissingSecretIsAnErrorWhereItIsUsed) {
  unsetenv("GROVE_SECRET_NOPE");
  std::string message = Error("local s = secret \"nope\"\n\nworker \"w1\" { secret = s }\n");
  EXPECT_THAT(message, StartsWith("grove.lua:3: worker 'w1': secret 'nope' not found: create "));
  EXPECT_THAT(message, HasSubstr("secrets/nope or set $GROVE_SECRET_NOPE"));

  Write("secrets/empty", "\n");
  EXPECT_THAT(Error("worker \"w1\" { secret = secret \"empty\" }\n"),
              StartsWith("grove.lua:1: worker 'w1': secret 'empty' is empty"));
  EXPECT_EQ(Error("worker \"w1\" { secret = secret \"../etc/passwd\" }\n"),
            "grove.lua:1: invalid secret name '../etc/passwd': use letters, digits, '.', '_' "
            "and '-' (it names a file in secrets/)");
}

TEST_F(ConfigTest, MissingFile) {
  Config c;
  std::string path = (fs::path(dir_) / "nope.lua").string();
  Status st = LoadConfig(path, &c);
  EXPECT_TRUE(st.IsNotFound());
  EXPECT_EQ(st.message(), "cannot read config " + path + ": No such file or directory");
}

TEST_F(ConfigTest, FailedLoadLeavesOutputUntouched) {
  Config c;
  c.project_name = "before";
  Write("grove.lua", "project { name = \"after\" }\nerror(\"boom\")\n");
  EXPECT_FALSE(LoadConfig(ConfigPath(), &c).ok());
  EXPECT_EQ(c.project_name, "before");
}

// Each error: the config, and the exact one-line message with the right file:line.
struct ErrorCase {
  const char* name;
  std::string lua;
  std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrorTest, ExactMessage) {
  EXPECT_EQ(Error(GetParam().lua), GetParam().message);
}

const std::string kW = kWorker;

INSTANTIATE_TEST_SUITE_P(
    Errors, ConfigErrorTest,
    ::testing::Values(
        // Lua itself.
        ErrorCase{"SyntaxError", kW + "builder \"b\" {\n  steps = { shell { \"x\" },, },\n}\n",
                  "grove.lua:3: unexpected symbol near ','"},
        ErrorCase{"SyntaxErrorAtEnd", kW + "builder \"b\" {\n  steps = { shell { \"x\" } \n}\n",
                  "grove.lua:5: '}' expected (to close '{' at line 2) near <eof>"},
        ErrorCase{"RuntimeError", kW + "\nbuider \"b\" { }\n",
                  "grove.lua:3: attempt to call a nil value (global 'buider')"},
        ErrorCase{"ErrorCall", "local x = 1\nerror(\"boom\\nsecond line\")\n",
                  "grove.lua:2: boom second line"},
        ErrorCase{"ErrorWithoutLocation", "error({})\n",
                  "grove.lua: error object is a table value"},
        ErrorCase{"OsExit", "\nos.exit(1)\n", "grove.lua:2: os.exit is not available in grove.lua"},
        // Unknown options, with the line of the call even when the table spans several lines.
        ErrorCase{
            "UnknownStepOption",
            kW + "builder \"b\" {\n  steps = {\n    shell { \"make\",\n      tiemout = 5 },\n  "
                 "},\n}\n",
            "grove.lua:4: unknown option 'tiemout' in shell step (did you mean 'timeout'?)"},
        ErrorCase{"UnknownNamedStepOption",
                  kW + "builder \"b\" { steps = { shell { \"x\", name = \"n\", en = {} } } }\n",
                  "grove.lua:2: unknown option 'en' in shell step 'n' (did you mean 'env'?)"},
        ErrorCase{
            "UnknownBuilderOption",
            kW + "builder \"b\" {\n  tag = { \"linux\" },\n  steps = { shell { \"x\" } },\n}\n",
            "grove.lua:2: unknown option 'tag' in builder 'b' (did you mean 'tags'?)"},
        ErrorCase{"UnknownWorkerOption", "worker \"w1\" { secret = \"s\", capacty = 2 }\n",
                  "grove.lua:1: unknown option 'capacty' in worker 'w1' (did you mean "
                  "'capacity'?)"},
        ErrorCase{"UnknownOptionNoSuggestion", "worker \"w1\" { secret = \"s\", colour = 2 }\n",
                  "grove.lua:1: unknown option 'colour' in worker 'w1'"},
        ErrorCase{"UnknownProjectOption", "project { name = \"p\", homepage = \"x\" }\n",
                  "grove.lua:1: unknown option 'homepage' in project"},
        ErrorCase{"UnknownWebOption", "web { lisen = \"127.0.0.1:1\" }\n",
                  "grove.lua:1: unknown option 'lisen' in web (did you mean 'listen'?)"},
        ErrorCase{"UnknownForceOption", kW + "schedule.force { \"f\", builder = { } }\n",
                  "grove.lua:2: unknown option 'builder' in schedule.force (did you mean "
                  "'builders'?)"},
        ErrorCase{"UnexpectedPositional", "worker \"w1\" { \"linux\", secret = \"s\" }\n",
                  "grove.lua:1: unexpected value #1 in worker 'w1' (it takes only named options)"},
        ErrorCase{"SecondPositionalInShell",
                  kW + "builder \"b\" { steps = { shell { \"a\", \"b\" } } }\n",
                  "grove.lua:2: unexpected value #2 in shell step"},
        ErrorCase{"UnknownSchedulerKind", "schedule.forse { \"f\" }\n",
                  "grove.lua:1: there is no scheduler schedule.forse (did you mean 'force'?); "
                  "known: cron, force, on_change, periodic, triggerable"},
        // Wrong types.
        ErrorCase{"CapacityString", "worker \"w1\" { secret = \"s\", capacity = \"2\" }\n",
                  "grove.lua:1: option 'capacity' in worker 'w1' must be an integer, got string"},
        ErrorCase{"PriorityFraction",
                  kW + "builder \"b\" { priority = 1.5, steps = { shell { \"x\" } } }\n",
                  "grove.lua:2: option 'priority' in builder 'b' must be a whole number, got "
                  "1.5"},
        ErrorCase{"TagsNotAList", "worker \"w1\" { secret = \"s\", tags = \"linux\" }\n",
                  "grove.lua:1: option 'tags' in worker 'w1' must be a list of strings like { "
                  "\"a\", \"b\" }, got string"},
        ErrorCase{"TagNotAString", "worker \"w1\" { secret = \"s\", tags = { \"a\", 7 } }\n",
                  "grove.lua:1: option 'tags[2]' in worker 'w1' must be a string, got number"},
        ErrorCase{"EnvValueBoolean",
                  kW + "builder \"b\" { steps = { shell { \"x\", env = { CC = true } } } }\n",
                  "grove.lua:2: option 'env.CC' in shell step must be a string, got boolean"},
        ErrorCase{"HaltOnFailureString",
                  kW + "builder \"b\" { steps = { shell { \"x\", halt_on_failure = \"yes\" } } }\n",
                  "grove.lua:2: option 'halt_on_failure' in shell step must be true or false, "
                  "got string"},
        ErrorCase{"BadDuration",
                  kW + "builder \"b\" { steps = { shell { \"x\", timeout = \"10x\" } } }\n",
                  "grove.lua:2: option 'timeout' in shell step: invalid duration '10x' "
                  "(expected e.g. 90s, 15m, 12h, 2d, 1w, 2y or 1h30m)"},
        ErrorCase{"NegativeTimeout",
                  kW + "builder \"b\" { steps = { shell { \"x\", timeout = -1 } } }\n",
                  "grove.lua:2: option 'timeout' in shell step must not be negative"},
        ErrorCase{
            "PropertiesFunction",
            kW + "builder \"b\" { properties = { f = print }, steps = { shell { \"x\" } } }\n",
            "grove.lua:2: option 'properties.f' in builder 'b' must be plain data "
            "(strings, numbers, booleans, tables), got function"},
        ErrorCase{"PropertiesList",
                  kW + "builder \"b\" { properties = { 1, 2 }, steps = { shell { \"x\" } } }\n",
                  "grove.lua:2: option 'properties' in builder 'b' must be a table of named "
                  "values like { answer = 42 }"},
        ErrorCase{"PropertiesSecret",
                  kW + "builder \"b\" { properties = { t = secret \"t\" }, steps = { shell { \"x\" "
                       "} } }\n",
                  "grove.lua:2: option 'properties.t' in builder 'b' cannot hold a secret: it "
                  "would be shown in the web UI"},
        ErrorCase{
            "SecretInEnv",
            kW + "builder \"b\" { steps = { shell { \"x\", env = { T = secret \"t\" } } } }\n",
            "grove.lua:2: option 'env.T' in shell step does not accept a secret"},
        ErrorCase{"NotUtf8", "project { name = \"caf\\xe9\" }\n",
                  "grove.lua:1: option 'name' in project is not valid UTF-8"},
        ErrorCase{"SecretNumber", "worker \"w1\" { secret = 42 }\n",
                  "grove.lua:1: option 'secret' in worker 'w1' must be a string or secret "
                  "\"NAME\", got number"},
        ErrorCase{"WorkerWithoutTable", "worker \"w1\" \"oops\"\n",
                  "grove.lua:1: expected worker \"w1\" { secret = secret \"w1\", tags = { ... } "
                  "}, got string"},
        ErrorCase{"WorkerWithoutName", "worker { secret = \"s\" }\n",
                  "grove.lua:1: expected worker \"NAME\" { ... }, got table"},
        ErrorCase{"StepNotAStep", kW + "builder \"b\" { steps = { \"make\" } }\n",
                  "grove.lua:2: option 'steps[1]' in builder 'b' must be a step made by shell { "
                  "... }, got string"},
        ErrorCase{"StoreNotString", "store(42)\n",
                  "grove.lua:1: expected store \"URL\" or store { url = \"URL\", password = "
                  "secret \"NAME\" }, got number"},
        ErrorCase{"StoreTableWithoutUrl", "store { \"sqlite:x\" }\n",
                  "grove.lua:1: unexpected value #1 in store (it takes only named options)"},
        // Missing required fields.
        ErrorCase{"WorkerWithoutSecret", "\nworker \"w1\" { tags = { \"linux\" } }\n",
                  "grove.lua:2: missing required option 'secret' in worker 'w1'"},
        ErrorCase{"BuilderWithoutSteps", kW + "builder \"b\" { tags = { \"linux\" } }\n",
                  "grove.lua:2: missing required option 'steps' in builder 'b'"},
        ErrorCase{"BuilderWithEmptySteps", kW + "builder \"b\" { steps = {} }\n",
                  "grove.lua:2: builder 'b' has no steps"},
        ErrorCase{"StepWithoutCommand",
                  kW + "builder \"b\" { steps = {\n  shell { name = \"x\" },\n} }\n",
                  "grove.lua:3: shell step 'x' has no command: give it as shell { \"make\" }, "
                  "command = \"make\" or argv = { \"make\" }"},
        ErrorCase{"StepWithTwoCommands",
                  kW + "builder \"b\" { steps = { shell { \"a\", argv = { \"b\" } } } }\n",
                  "grove.lua:2: shell step has more than one command: give only one of value "
                  "#1, command = and argv ="},
        ErrorCase{"EmptyCommand", kW + "builder \"b\" { steps = { shell { \"  \" } } }\n",
                  "grove.lua:2: the command of shell step is empty"},
        ErrorCase{"AbsoluteWorkdir",
                  kW + "builder \"b\" { steps = { shell { \"x\", workdir = \"/tmp\" } } }\n",
                  "grove.lua:2: option 'workdir' in shell step must be relative to the build "
                  "directory, got '/tmp'"},
        ErrorCase{"ProjectWithoutName", "project { url = \"https://x\" }\n",
                  "grove.lua:1: missing required option 'name' in project"},
        ErrorCase{"CurriedWithoutTable", kW + "\nworker \"w2\"\n",
                  "grove.lua:3: worker \"w2\" has no table: write worker \"w2\" { ... }"},
        // Names.
        ErrorCase{"DuplicateWorker", kW + "worker \"w1\" { secret = \"t\" }\n",
                  "grove.lua:2: duplicate worker 'w1' (first defined at grove.lua:1)"},
        ErrorCase{"DuplicateBuilder",
                  kW + "builder \"b\" { steps = { shell { \"x\" } } }\n\nbuilder \"b\" { steps = "
                       "{ shell { \"y\" } } }\n",
                  "grove.lua:4: duplicate builder 'b' (first defined at grove.lua:2)"},
        ErrorCase{"DuplicateScheduler",
                  kW + "schedule.force { \"f\" }\nschedule.force { name = \"f\" }\n",
                  "grove.lua:3: duplicate scheduler 'f' (first defined at grove.lua:2)"},
        ErrorCase{"BadBuilderName", kW + "builder \"my builder\" { }\n",
                  "grove.lua:2: invalid builder name 'my builder': use letters, digits, '.', "
                  "'_' and '-' (not first)"},
        ErrorCase{"StoreTwice", "store \"sqlite:a.db\"\nstore \"sqlite:b.db\"\n",
                  "grove.lua:2: store is declared twice (first at grove.lua:1)"},
        // Values.
        ErrorCase{"CapacityZero", "worker \"w1\" { secret = \"s\", capacity = 0 }\n",
                  "grove.lua:1: option 'capacity' in worker 'w1' must be between 1 and 1000, got "
                  "0"},
        ErrorCase{"MaxConnectionsZero", "web { max_connections = 0 }\n",
                  "grove.lua:1: option 'max_connections' in web must be between 1 and 1000000, "
                  "got 0"},
        ErrorCase{"ListenNoPort", "web { listen = \"localhost\" }\n",
                  "grove.lua:1: invalid listen address 'localhost' in web: expected HOST:PORT "
                  "with an IP address or localhost, e.g. \"127.0.0.1:8010\" or \"[::1]:8010\""},
        ErrorCase{"ListenBadPort", "\nweb { listen = \"127.0.0.1:99999\" }\n",
                  "grove.lua:2: invalid listen address '127.0.0.1:99999' in web: expected "
                  "HOST:PORT with an IP address or localhost, e.g. \"127.0.0.1:8010\" or "
                  "\"[::1]:8010\""},
        ErrorCase{"ListenHostName", "web { listen = \"example.com:80\" }\n",
                  "grove.lua:1: invalid listen address 'example.com:80' in web: expected "
                  "HOST:PORT with an IP address or localhost, e.g. \"127.0.0.1:8010\" or "
                  "\"[::1]:8010\""},
        ErrorCase{"BadStore", "store \"mysql://db/grove\"\n",
                  "grove.lua:1: invalid store 'mysql://db/grove': expected \"sqlite:PATH\" "
                  "(relative to the master directory) or \"postgresql://USER@HOST/DB\""},
        ErrorCase{"EmptySqlitePath", "store \"sqlite:\"\n",
                  "grove.lua:1: invalid store 'sqlite:': expected \"sqlite:PATH\" (relative to "
                  "the master directory) or \"postgresql://USER@HOST/DB\""},
        ErrorCase{"BadBroker", "broker \"redis://mq\"\n",
                  "grove.lua:1: invalid broker 'redis://mq': expected \"embedded\" or "
                  "\"amqp://USER:PASSWORD@HOST:PORT/VHOST\" (amqps:// for TLS)"},
        ErrorCase{"BrokerUnknownTlsParameter",
                  "\nbroker \"amqps://grove:pw@mq/grove?cacertfile=/ca.pem&verfy=verify_none\"\n",
                  "grove.lua:2: invalid broker URL: unknown broker URL parameter 'verfy' (known: "
                  "cacertfile, certfile, keyfile, verify, server_name_indication)"},
        ErrorCase{"BrokerTlsParameterOnPlainAmqp", "broker \"amqp://mq/?cacertfile=/ca.pem\"\n",
                  "grove.lua:1: invalid broker URL: broker URL parameter 'cacertfile' is for "
                  "TLS: use an amqps:// URL"},
        // Cross references, checked once the whole file has run.
        ErrorCase{"ForceUnknownBuilder",
                  kW + "builder \"hello\" { steps = { shell { \"x\" } } }\n"
                       "schedule.force { \"force\", builders = { \"helo\" } }\n",
                  "grove.lua:3: schedule.force 'force' names unknown builder 'helo' (did you "
                  "mean 'hello'?)"},
        ErrorCase{"ForceEmptyBuilders", kW + "schedule.force { \"f\", builders = {} }\n",
                  "grove.lua:2: option 'builders' in schedule.force 'f' is empty (leave it out "
                  "to cover every builder)"},
        ErrorCase{"TagsNobodyHas",
                  kW + "\nbuilder \"b\" {\n  tags = { \"linux\", \"arm\" },\n  steps = { shell { "
                       "\"x\" } },\n}\n",
                  "grove.lua:3: no worker has all the tags { linux, arm } of builder 'b': nobody "
                  "could run it (declare such a worker or list workers = { ... })"},
        ErrorCase{"OsTagDoesNotExcuseOtherTags",
                  kW + "builder \"b\" { tags = { \"os:windows\", \"arm\" }, steps = { shell { "
                       "\"x\" } } }\n",
                  "grove.lua:2: no worker has all the tags { os:windows, arm } of builder 'b': "
                  "nobody could run it (declare such a worker or list workers = { ... })"},
        ErrorCase{"NoWorkerAtAll", "builder \"b\" { steps = { shell { \"x\" } } }\n",
                  "grove.lua:1: builder 'b' cannot run: no worker is declared"},
        ErrorCase{"UnknownWorkerInBuilder",
                  kW + "builder \"b\" { workers = { \"w2\" }, steps = { shell { \"x\" } } }\n",
                  "grove.lua:2: builder 'b' names unknown worker 'w2' (did you mean 'w1'?)"},
        ErrorCase{"EmptyWorkersList",
                  kW + "builder \"b\" { workers = {}, steps = { shell { \"x\" } } }\n",
                  "grove.lua:2: option 'workers' in builder 'b' is empty: no worker could run "
                  "it"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST_F(ConfigTest, EndlessLoopIsStopped) {
  Write("grove.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n");
  Config c;
  config_internal::LoadOptions options;
  options.time_limit = std::chrono::milliseconds(100);
  Status st = config_internal::LoadConfigWithOptions(ConfigPath(), options, &c);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(),
              ::testing::MatchesRegex("grove.lua:[2-4]: evaluation exceeded the time limit of "
                                      "0.1 s"));
}

TEST_F(ConfigTest, OnDemandWorker) {
  ASSERT_TRUE(Load(R"(worker "burst" {
  secret = "s", tags = { "linux" }, capacity = 4,
  on_demand = {
    start = { "/etc/grove/start-vm.sh", "--big" }, stop = { "/etc/grove/stop-vm.sh" },
    max = 8, min = 1, idle = "5m", start_timeout = "3m",
  },
}
worker "w1" { secret = "t" }
)")
                  .ok());
  const WorkerConfig* w = config_.FindWorker("burst");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->on_demand.enabled);
  EXPECT_EQ(w->on_demand.start, (std::vector<std::string>{"/etc/grove/start-vm.sh", "--big"}));
  EXPECT_EQ(w->on_demand.stop, (std::vector<std::string>{"/etc/grove/stop-vm.sh"}));
  EXPECT_EQ(w->on_demand.max, 8);
  EXPECT_EQ(w->on_demand.min, 1);
  EXPECT_EQ(w->on_demand.idle_s, 300);
  EXPECT_EQ(w->on_demand.start_timeout_s, 180);
  EXPECT_FALSE(config_.FindWorker("w1")->on_demand.enabled);
  // Instances are found by name, numbers 1..max only.
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-1"), w);
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-8"), w);
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-9"), nullptr);
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-0"), nullptr);
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-01"), nullptr);
  EXPECT_EQ(config_.FindWorkerOrInstance("burst-x"), nullptr);
  EXPECT_EQ(config_.FindWorkerOrInstance("w1-1"), nullptr);  // w1 is not on-demand
  EXPECT_EQ(config_.FindWorkerOrInstance("w1"), config_.FindWorker("w1"));
}

TEST_F(ConfigTest, OnDemandErrorsNameTheLine) {
  EXPECT_EQ(Error("\nworker \"b\" { secret = \"s\", on_demand = { stop = { \"x\" } } }\n"),
            "grove.lua:2: missing required option 'start' in on_demand of worker 'b'");
  EXPECT_EQ(Error("worker \"b\" { secret = \"s\", on_demand = { start = { \"x\" }, stop = { "
                  "\"y\" }, max = 2, min = 3 } }\n"),
            "grove.lua:1: option 'min' in on_demand of worker 'b' must be between 0 and max (2), "
            "got 3");
  EXPECT_EQ(
      Error("worker \"b\" { secret = \"s\", on_demand = { start = { \"x\" }, stop = { "
            "\"y\" }, max = 0 } }\n"),
      "grove.lua:1: option 'max' in on_demand of worker 'b' must be between 1 and 1000, got 0");
  EXPECT_THAT(Error("worker \"b\" { secret = \"s\", on_demand = { start = { \"x\" }, stop = { "
                    "\"y\" }, idel = \"5m\" } }\n"),
              StartsWith("grove.lua:1: unknown option 'idel' in on_demand of worker 'b'"));
  EXPECT_THAT(Error("worker \"b\" { secret = \"s\", on_demand = true }\n"),
              StartsWith("grove.lua:1: option 'on_demand' in worker 'b' must be a table"));
  EXPECT_EQ(Error("worker \"b\" { secret = \"s\", on_demand = { start = { \"x\" }, stop = { "
                  "\"y\" }, max = 3 } }\nworker \"b-2\" { secret = \"t\" }\n"),
            "grove.lua:2: worker 'b-2' has the name of an instance of on-demand worker 'b'; "
            "rename one of them");
}

TEST_F(ConfigTest, QuickstartLoads) {
  // The quickstart that `grove init` writes must always be a valid config.
  // The source tree comes from the build (not __FILE__, which ccache may make relative).
  fs::path quickstart = fs::path(GROVE_SOURCE_DIR) / "examples/quickstart/grove.lua";
  Config c;
  Status st = LoadConfig(quickstart.string(), &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.store_url, "sqlite:state/grove.db");
  EXPECT_EQ(c.broker_url, "embedded");
  EXPECT_EQ(c.web.listen, "127.0.0.1:8010");
  ASSERT_NE(c.FindWorker("local"), nullptr);
  EXPECT_EQ(c.FindWorker("local")->capacity, 2);
  EXPECT_EQ(c.FindWorker("local")->secret.size(), 64u);
  ASSERT_NE(c.FindBuilder("hello"), nullptr);
  ASSERT_NE(c.FindBuilder("fail-demo"), nullptr);
  ASSERT_EQ(c.force_schedulers.size(), 1u);
  EXPECT_EQ(c.force_schedulers[0].builders.size(), 2u);
}

TEST_F(ConfigTest, ErrorsCarryTheConfigFileName) {
  Write("site.lua", "\n\nworker \"w1\" { }\n");
  Config c;
  Status st = LoadConfig((fs::path(dir_) / "site.lua").string(), &c);
  EXPECT_EQ(st.message(), "site.lua:3: missing required option 'secret' in worker 'w1'");
}

TEST_F(ConfigTest, ShebangKeepsLineNumbers) {
  EXPECT_EQ(Error("#!/usr/bin/env lua\n\nworker \"w1\" { }\n"),
            "grove.lua:3: missing required option 'secret' in worker 'w1'");
}

TEST_F(ConfigTest, PcallCanCatchConfigErrors) {
  // Config errors are ordinary Lua errors: a config may probe and fall back.
  Status st = Load(R"lua(local ok, err = pcall(function() worker "w1" { secret = 1 } end)
assert(not ok and err:find("grove.lua:1: option 'secret'", 1, true), err)
worker "w1" { secret = "s" }
)lua");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config_.workers.size(), 1u);
}

}  // namespace
}  // namespace grove
