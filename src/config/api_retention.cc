// How long finished builds, their logs and artifacts, and changes are kept:
//
//   retention { logs = "90d", builds = "2y", artifacts = "30d", changes = "1y" }
//   builder "nightly" { ..., retention = { logs = "7d" } }   -- overrides for one builder
//
// Each value is a duration ("90d", "2y" = 730 days) or "forever"; what is not given is kept
// forever (the global table) or as the global table says (a builder's).
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/table_reader.h"
#include "core/duration.h"

namespace grove::config_internal {

namespace {

int64_t RetentionValue(const Json& v, const std::string& key, const std::string& what) {
  const std::string where = "option '" + key + "' in " + what;
  if (v.is_string() && v.get<std::string>() == "forever") return 0;
  if (!v.is_string()) throw ConfigError(where + " must be a duration like \"90d\" or \"forever\"");
  std::chrono::seconds d;
  if (Status st = ParseDuration(v.get<std::string>(), &d); !st.ok())
    throw ConfigError(where + ": " + st.message());
  if (d.count() < 3600)
    throw ConfigError(where + " must be at least 1h (or \"forever\"), got \"" +
                      v.get<std::string>() + "\"");
  return static_cast<int64_t>(d.count()) * 1000;
}

int Retention(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "retention { logs = \"90d\", builds = \"2y\" }");
  DeclareOnce(L, ctx, "retention");
  TableReader t(L, 1, "retention");
  Json table = Json::object();
  for (const char* key : {"logs", "builds", "artifacts", "changes"})
    if (std::optional<std::string> v = t.String(key)) table[key] = *v;
  t.Finish();
  ctx.config->retention = ParseRetention(table, "retention", false);
  return 0;
}

}  // namespace

RetentionConfig ParseRetention(const Json& table, const std::string& what, bool per_builder) {
  RetentionConfig r;
  if (per_builder) r = {-1, -1, -1, -1};
  if (!table.is_object())
    throw ConfigError(what + " must be a table like { logs = \"90d\", builds = \"2y\" }");
  for (const auto& [key, v] : table.items()) {
    if (key == "logs")
      r.logs_ms = RetentionValue(v, key, what);
    else if (key == "builds")
      r.builds_ms = RetentionValue(v, key, what);
    else if (key == "artifacts")
      r.artifacts_ms = RetentionValue(v, key, what);
    else if (key == "changes" && !per_builder)
      r.changes_ms = RetentionValue(v, key, what);
    else
      throw ConfigError("unknown option '" + key + "' in " + what + " (expected logs, builds, " +
                        (per_builder ? "artifacts)" : "artifacts, changes)"));
  }
  return r;
}

void RegisterRetentionApi(lua_State* L) {
  SetGlobalFunction<Retention>(L, "retention");
}

}  // namespace grove::config_internal
