// The functions grove.lua can call, one group per api_<group>.cc, each with a Register function.
// To add a group (say, change sources): write api_sources.cc with RegisterSourceApi, declare it
// here and call it from InstallApi. Function bodies follow the rules in lua_fn.h.
#pragma once

#include <lua.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "config/load_context.h"

namespace grove::config_internal {

// A lua_CFunction that prepares a fresh state: standard libraries, the environment and every
// config function. Run it under lua_pcall.
int InstallApi(lua_State* L);

// pcall, xpcall, coroutine.resume and .close re-raise a hit limit; no debug.sethook
void RegisterLimitGuards(lua_State* L);
void RegisterEnvironment(lua_State* L);  // require from the master directory, grove.base_dir
void RegisterProjectApi(lua_State* L);   // project, store, broker, web
void RegisterWorkerApi(lua_State* L);    // worker, secret
void RegisterStepApi(lua_State* L);      // shell
void RegisterPipelineStepApi(
    lua_State* L);                   // checkout, test, set_property, upload, download, publish
void RegisterLockApi(lua_State* L);  // lock.master, lock.worker
void RegisterArtifactStoreApi(lua_State* L);  // artifacts
void RegisterRetentionApi(lua_State* L);      // retention
// A retention table (retention { ... } or a builder's retention = { ... }) checked; in a
// builder's, what is not given is -1 (as the global setting).
RetentionConfig ParseRetention(const Json& table, const std::string& what, bool per_builder);
// The marker key of lock tables, and their reading from a builder's locks option (api_locks.cc).
inline constexpr const char* kLockKey = "__grove_lock";
std::vector<LockUse> ParseLocks(const Json& data, const std::string& what);
void RegisterBuilderApi(lua_State* L);   // builder
void RegisterScheduleApi(lua_State* L);  // schedule.force
// schedule.cron, .periodic, .on_change, .triggerable (after RegisterScheduleApi), webhooks
void RegisterTimedScheduleApi(lua_State* L);
void RegisterSourceApi(lua_State* L);   // git, webhooks
void RegisterTriggerApi(lua_State* L);  // the trigger step
void RegisterConsumeApi(lua_State* L);  // the consume step, consumer
void RegisterNotifyApi(lua_State* L);   // notify.email, .irc, .webhook, .status
// Consumer jobs (api_consume.cc): the implicit builder "consume:NAME" with one consume step whose
// payload is the request's "payload" property; made once, checked for the same tags after.
inline constexpr const char* kConsumerBuilderPrefix = "consume:";
std::string EnsureConsumerBuilder(LoadContext& ctx, const std::string& consumer,
                                  const std::vector<std::string>& tags, const std::string& where,
                                  int64_t timeout_s = 0);

// Helpers shared by the bodies (api_common.cc).

class TableReader;
// Takes a scheduler's name from value #1 or name = (default |fallback|) and reserves it: all
// scheduler kinds share one namespace (api_schedule.cc).
std::string ClaimSchedulerName(lua_State* L, LoadContext& ctx, TableReader& t,
                               std::optional<std::string> positional,
                               std::optional<std::string> named, const char* fallback);

// Throws unless the function got exactly one argument of Lua type |type|; |usage| shows a correct
// call, e.g. "project { name = \"...\" }".
void ExpectOneArg(lua_State* L, int type, const std::string& usage);

// Records that |what| ("store", "web") is declared at the caller's line; a second declaration is
// an error naming the first.
void DeclareOnce(lua_State* L, LoadContext& ctx, const std::string& what);

// The first half of a curried definition, KIND "NAME" { ... }: checks the name and returns (as
// the one result for Lua) the function |table_fn| that takes the table. A definition whose table
// never comes is reported when the config has run.
int BeginDefinition(lua_State* L, LoadContext& ctx, const char* kind, lua_CFunction table_fn);
// Called first by |table_fn|: marks the definition complete and returns NAME.
std::string TakeDefinition(lua_State* L, LoadContext& ctx);

}  // namespace grove::config_internal
