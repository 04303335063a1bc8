// The consume step (docs/config.md, "Consumer jobs"):
//
//   consume { "recalc_scores", payload = { batch = 500 } }
//
// runs the consumer a worker registered as "recalc_scores" (grove worker --consumer
// NAME=COMMAND) with the payload as JSON. Takes the shared step options too (name, env,
// timeout...).
//
//   consumer { "recalc_scores", tags = { "linux" } }
//
// declares a consumer job without a builder: it makes the implicit builder "consume:NAME" (one
// consume step whose payload is the request's "payload" property), which POST /api/v1/jobs,
// grove publish and schedule.cron { consume = NAME } enqueue.
#include <algorithm>

#include "config/api.h"
#include "config/lua_fn.h"
#include "config/lua_values.h"
#include "config/step_options.h"
#include "config/step_table.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

constexpr const char* kConsumeUsage = "consume { \"recalc_scores\", payload = { batch = 500 } }";

int Consume(lua_State* L, LoadContext&) {
  ExpectOneArg(L, LUA_TTABLE, kConsumeUsage);
  TableReader t(L, 1, "consume step");
  std::optional<std::string> consumer = t.PositionalString(1);
  if (!consumer || consumer->empty())
    throw ConfigError("consume step needs the consumer's name as value #1, like " +
                      std::string(kConsumeUsage));
  std::optional<std::string> name = ReadStepName(t, "consume");
  std::optional<Json> payload = t.Data("payload");
  StepSpec step;
  step.type = "consume";
  ReadCommonStepOptions(L, t, &step);
  t.Finish();
  step.options["consumer"] = *consumer;
  step.options["payload"] = payload ? *payload : Json::object();
  PushStepTable(L, step, name, CallerWhere(L));
  return 1;
}

int Consumer(lua_State* L, LoadContext& ctx) {
  constexpr const char* kUsage = "consumer { \"recalc_scores\", tags = { \"linux\" } }";
  ExpectOneArg(L, LUA_TTABLE, kUsage);
  TableReader t(L, 1, "consumer");
  std::optional<std::string> name = t.PositionalString(1);
  std::vector<std::string> tags = t.StringList("tags").value_or(std::vector<std::string>{});
  std::optional<int64_t> timeout = t.Seconds("timeout");
  t.Finish();
  if (!name || name->empty())
    throw ConfigError("consumer needs its name as value #1, like " + std::string(kUsage));
  EnsureConsumerBuilder(ctx, *name, tags, CallerWhere(L), timeout.value_or(0));
  return 0;
}

}  // namespace

std::string EnsureConsumerBuilder(LoadContext& ctx, const std::string& consumer,
                                  const std::vector<std::string>& tags, const std::string& where,
                                  int64_t timeout_s) {
  std::string name = std::string(kConsumerBuilderPrefix) + consumer;
  std::vector<std::string> sorted = tags;
  std::sort(sorted.begin(), sorted.end());
  for (BuilderConfig& b : ctx.config->builders) {
    if (b.name != name) continue;
    std::vector<std::string> had = b.tags;
    std::sort(had.begin(), had.end());
    if (had != sorted)
      throw ConfigError("consumer '" + consumer + "' is declared with other tags at " + b.where);
    if (timeout_s && !b.steps.empty()) b.steps[0].timeout_s = timeout_s;
    return name;
  }
  BuilderConfig b;
  b.name = name;
  b.tags = tags;
  b.where = where;
  StepSpec step;
  step.name = consumer;
  step.type = "consume";
  step.timeout_s = timeout_s;
  step.options["consumer"] = consumer;
  step.options["payload_property"] = "payload";
  b.steps.push_back(std::move(step));
  ctx.config->builders.push_back(std::move(b));
  return name;
}

void RegisterConsumeApi(lua_State* L) {
  SetGlobalFunction<Consume>(L, "consume");
  SetGlobalFunction<Consumer>(L, "consumer");
}

}  // namespace grove::config_internal
