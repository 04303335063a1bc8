// Whole-config checks of the schedulers, change sources and trigger steps: every name they
// use must exist once grove.lua has run.
#include <algorithm>

#include "config/finish.h"
#include "config/naming.h"

namespace grove::config_internal {

namespace {

Status CheckBuilders(const Config& config, const std::string& what, const std::string& where,
                     const std::vector<std::string>& builders) {
  for (const std::string& name : builders)
    if (!config.FindBuilder(name))
      return ErrorAt(where, what + " names unknown builder '" + name + "'" +
                                DidYouMean(name, BuilderNames(config)));
  return Status::Ok();
}

Status CheckSource(const Config& config, const std::string& what, const std::string& where,
                   const std::string& url) {
  if (url.empty()) return Status::Ok();
  for (const GitSourceConfig& g : config.git_sources)
    if (g.url == url) return Status::Ok();
  return ErrorAt(where, what + " names source '" + url + "', which no git { url = ... } declares");
}

}  // namespace

Status FinishSchedulers(LoadContext& ctx) {
  const Config& config = *ctx.config;
  for (const CronSchedulerConfig& c : config.cron_schedulers)
    GROVE_RETURN_IF_ERROR(
        CheckBuilders(config, "schedule.cron '" + c.name + "'", c.where, c.builders));
  for (const PeriodicSchedulerConfig& p : config.periodic_schedulers) {
    std::string what = "schedule.periodic '" + p.name + "'";
    GROVE_RETURN_IF_ERROR(CheckBuilders(config, what, p.where, p.builders));
    GROVE_RETURN_IF_ERROR(CheckSource(config, what, p.where, p.only_if_changed));
  }
  for (const OnChangeSchedulerConfig& o : config.on_change_schedulers) {
    std::string what = "schedule.on_change '" + o.name + "'";
    GROVE_RETURN_IF_ERROR(CheckBuilders(config, what, o.where, o.builders));
    GROVE_RETURN_IF_ERROR(CheckSource(config, what, o.where, o.source));
  }
  for (const TriggerableSchedulerConfig& t : config.triggerable_schedulers)
    GROVE_RETURN_IF_ERROR(
        CheckBuilders(config, "schedule.triggerable '" + t.name + "'", t.where, t.builders));
  // A trigger step names a triggerable scheduler or a builder.
  for (const BuilderConfig& b : config.builders) {
    for (const StepSpec& s : b.steps) {
      if (s.type != "trigger") continue;
      std::string target = s.options.value("target", "");
      bool known =
          config.FindBuilder(target) != nullptr ||
          std::any_of(config.triggerable_schedulers.begin(), config.triggerable_schedulers.end(),
                      [&](const TriggerableSchedulerConfig& t) { return t.name == target; });
      if (!known) {
        std::vector<std::string> names = BuilderNames(config);
        for (const auto& t : config.triggerable_schedulers) names.push_back(t.name);
        return ErrorAt(b.where, "step '" + s.name + "' of builder '" + b.name + "' triggers '" +
                                    target +
                                    "', which is neither a triggerable scheduler nor a builder" +
                                    DidYouMean(target, names));
      }
    }
  }
  return Status::Ok();
}

}  // namespace grove::config_internal
