// The pipeline step functions (docs/config.md, "Pipeline steps"):
//
//   checkout(app)  or  checkout { repo = "https://...", branch = "main", mode = "full",
//                                 shallow = true, submodules = true }
//   test { "pytest --junitxml=report.xml", junit = "report.xml" }       -- or a list of globs
//   set_property { "git describe", property = "version" }  /  { file = "VERSION", property = ... }
//   upload { "dist/*.zip", to = "releases/${prop:buildnumber}/" }
//   download { "releases/1/app.zip", build = "${prop:upstream}", to = "in/app.zip" }
//   publish { "dist/*.zip", url = "https://wiki/...", method = "POST", auth = secret "wiki",
//             auth_type = "bearer", field = "file", retries = 3 }
//
// Every one also takes the shared options of step_options.h (name, env, workdir, timeout, ...).
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/source_ref.h"
#include "config/step_options.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

// A list option that may be given as one string: junit = "a.xml" or { "a.xml", "b/*.xml" }.
Json StringOrListOption(lua_State* L, TableReader& t, const char* key, bool* given) {
  int type = t.Push(key);
  lua_pop(L, 1);
  *given = type != LUA_TNIL;
  if (type == LUA_TSTRING) return Json(*t.String(key));
  if (type == LUA_TNIL) return Json::array();
  std::vector<std::string> list = *t.StringList(key);
  if (list.empty())
    throw ConfigError("option '" + std::string(key) + "' in " + t.what() + " is empty");
  return Json(list);
}

// The files of upload and publish: value #1 as one glob or a list of globs.
Json ReadFiles(lua_State* L, TableReader& t, const std::string& usage) {
  lua_rawgeti(L, 1, 1);
  int type = lua_type(L, -1);
  lua_pop(L, 1);
  Json files;
  if (type == LUA_TSTRING) {
    files = Json::array({*t.PositionalString(1)});
  } else if (type == LUA_TTABLE) {
    lua_rawgeti(L, 1, 1);
    files = Json(CheckStringList(L, -1, "value #1", t.what()));
    lua_pop(L, 1);
    t.MarkPositional(1);
  } else {
    throw ConfigError(t.what() + " needs the files to send as value #1, like " + usage);
  }
  for (const auto& f : files)
    if (f.get<std::string>().empty()) throw ConfigError(t.what() + " has an empty file pattern");
  return files;
}

int Checkout(lua_State* L, LoadContext&) {
  constexpr const char* kUsage = "checkout(git { url = ... }) or checkout { repo = \"URL\" }";
  StepSpec step;
  step.type = "git";
  std::string url;
  if (lua_gettop(L) == 1 && IsSourceMarker(L, 1, &url)) {
    step.options["repo"] = url;
    step.options["mode"] = "incremental";
    PushStepTable(L, step, std::string("checkout"), CallerWhere(L));
    return 1;
  }
  ExpectOneArg(L, LUA_TTABLE, kUsage);
  TableReader t(L, 1, "checkout step");
  std::optional<std::string> name = ReadStepName(t, "checkout");
  // The repository: value #1 (a git source or a URL) or repo =.
  lua_rawgeti(L, 1, 1);
  bool source_given = IsSourceMarker(L, -1, &url);
  lua_pop(L, 1);
  if (source_given) {
    t.MarkPositional(1);
  } else if (auto positional = t.PositionalString(1)) {
    url = *positional;
  }
  if (auto repo = t.String("repo")) {
    if (!url.empty())
      throw ConfigError(t.what() + " has two repositories: give value #1 or repo =");
    url = *repo;
  }
  ReadCommonStepOptions(L, t, &step);
  std::string mode = t.String("mode").value_or("incremental");
  if (auto branch = t.String("branch")) step.options["branch"] = *branch;
  if (auto revision = t.String("revision")) step.options["revision"] = *revision;
  step.options["shallow"] = t.Bool("shallow").value_or(false);
  step.options["submodules"] = t.Bool("submodules").value_or(false);
  t.Finish();
  if (url.empty()) throw ConfigError(t.what() + " has no repository; expected " + kUsage);
  if (mode != "incremental" && mode != "full")
    throw ConfigError("option 'mode' in " + t.what() +
                      " must be \"incremental\" or \"full\", got '" + mode + "'");
  step.options["repo"] = url;
  step.options["mode"] = mode;
  PushStepTable(L, step, name ? name : std::optional<std::string>("checkout"), CallerWhere(L));
  return 1;
}

int Test(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, "test { \"pytest --junitxml=r.xml\", junit = \"r.xml\" }");
  TableReader t(L, 1, "test step");
  std::optional<std::string> name = ReadStepName(t, "test");
  CommandOptions cmd;
  cmd.Read(t);
  StepSpec step;
  step.type = "test";
  ReadCommonStepOptions(L, t, &step);
  bool given = false;
  step.options["junit"] = StringOrListOption(L, t, "junit", &given);
  t.Finish();
  cmd.Apply(t, /*required=*/true, &step);
  if (!given)
    throw ConfigError(t.what() + " needs junit = \"report.xml\" (the JUnit XML reports to read)");
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

int SetProperty(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, "set_property { \"git describe\", property = \"version\" }");
  TableReader t(L, 1, "set_property step");
  std::optional<std::string> name = ReadStepName(t, "set_property");
  CommandOptions cmd;
  cmd.Read(t);
  StepSpec step;
  step.type = "set_property";
  ReadCommonStepOptions(L, t, &step);
  std::optional<std::string> property = t.String("property");
  std::optional<std::string> file = t.String("file");
  t.Finish();
  if (!property || property->empty()) t.Missing("property");
  bool has_command = cmd.Apply(t, /*required=*/false, &step);
  if (has_command == file.has_value())
    throw ConfigError(t.what() + " needs exactly one of a command (value #1) and file =");
  if (file) {
    CheckRelativePath(t, "file", *file);
    step.options["file"] = *file;
  }
  step.options["property"] = *property;
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

int Upload(lua_State* L, LoadContext&) {
  constexpr const char* kUsage = "upload { \"dist/*.zip\", to = \"releases/\" }";
  ExpectOneArg(L, LUA_TTABLE, kUsage);
  TableReader t(L, 1, "upload step");
  std::optional<std::string> name = ReadStepName(t, "upload");
  StepSpec step;
  step.type = "upload";
  step.options["files"] = ReadFiles(L, t, kUsage);
  ReadCommonStepOptions(L, t, &step);
  std::string to = t.String("to").value_or("");
  t.Finish();
  CheckRelativePath(t, "to", to);
  step.options["to"] = to;
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

int Download(lua_State* L, LoadContext&) {
  constexpr const char* kUsage = "download { \"releases/1/app.zip\", to = \"app.zip\" }";
  ExpectOneArg(L, LUA_TTABLE, kUsage);
  TableReader t(L, 1, "download step");
  std::optional<std::string> name = ReadStepName(t, "download");
  std::optional<std::string> path = t.PositionalString(1);
  StepSpec step;
  step.type = "download";
  ReadCommonStepOptions(L, t, &step);
  std::optional<std::string> to = t.String("to");
  std::optional<std::string> build;
  int type = t.Push("build");
  lua_pop(L, 1);
  if (type == LUA_TNUMBER)
    build = std::to_string(*t.Integer("build"));
  else
    build = t.String("build");
  t.Finish();
  if (!path || path->empty())
    throw ConfigError(t.what() + " needs the artifact's path as value #1, like " + kUsage);
  std::string dest = to.value_or(*path);
  CheckRelativePath(t, "to", dest);
  step.options["path"] = *path;
  step.options["to"] = dest;
  step.options["build"] = build.value_or("${prop:buildid}");
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

int Publish(lua_State* L, LoadContext&) {
  constexpr const char* kUsage =
      "publish { \"dist/*.zip\", url = \"https://...\", auth = secret \"x\" }";
  ExpectOneArg(L, LUA_TTABLE, kUsage);
  TableReader t(L, 1, "publish step");
  std::optional<std::string> name = ReadStepName(t, "publish");
  StepSpec step;
  step.type = "publish";
  step.options["files"] = ReadFiles(L, t, kUsage);
  ReadCommonStepOptions(L, t, &step);
  std::optional<std::string> url = t.String("url");
  std::string method = t.String("method").value_or("POST");
  std::optional<StringOrSecret> auth = t.StringOrSecretValue("auth");
  std::string auth_type = t.String("auth_type").value_or("bearer");
  std::string field = t.String("field").value_or("file");
  int64_t retries = t.Integer("retries").value_or(3);
  int64_t retry_delay_ms = t.Integer("retry_delay_ms").value_or(1000);
  Json headers = t.Data("headers").value_or(Json::object());
  t.Finish();
  if (!url || url->empty()) t.Missing("url");
  if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0 && url->rfind("${", 0) != 0)
    throw ConfigError("option 'url' in " + t.what() + " must be an http:// or https:// URL");
  if (method != "POST" && method != "PUT")
    throw ConfigError("option 'method' in " + t.what() +
                      " must be \"POST\" (multipart) or \"PUT\"");
  if (auth_type != "bearer" && auth_type != "basic")
    throw ConfigError("option 'auth_type' in " + t.what() + " must be \"bearer\" or \"basic\"");
  if (retries < 0 || retries > 20)
    throw ConfigError("option 'retries' in " + t.what() + " must be between 0 and 20");
  if (!headers.is_object())
    throw ConfigError("option 'headers' in " + t.what() + " must be a table of names to strings");
  step.options["url"] = *url;
  step.options["method"] = method;
  step.options["field"] = field;
  step.options["retries"] = retries;
  if (retry_delay_ms < 1 || retry_delay_ms > 600000)
    throw ConfigError("option 'retry_delay_ms' in " + t.what() + " must be between 1 and 600000");
  step.options["retry_delay_ms"] = retry_delay_ms;
  step.options["headers"] = headers;
  if (auth) {
    // A secret travels as ${secret:NAME}: the master sends its value with the job and the worker
    // masks it in the log. A literal string is allowed (e.g. "${secret:x}" written by hand).
    if (const SecretRef* ref = std::get_if<SecretRef>(&*auth))
      step.options["auth"] = "${secret:" + ref->name + "}";
    else
      step.options["auth"] = std::get<std::string>(*auth);
    step.options["auth_type"] = auth_type;
  }
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

}  // namespace

void RegisterPipelineStepApi(lua_State* L) {
  SetGlobalFunction<Checkout>(L, "checkout");
  SetGlobalFunction<Test>(L, "test");
  SetGlobalFunction<SetProperty>(L, "set_property");
  SetGlobalFunction<Upload>(L, "upload");
  SetGlobalFunction<Download>(L, "download");
  SetGlobalFunction<Publish>(L, "publish");
}

}  // namespace grove::config_internal
