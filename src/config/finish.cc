#include "config/finish.h"

#include <algorithm>

#include "config/naming.h"

namespace grove::config_internal {

Status ErrorAt(const std::string& where, const std::string& message) {
  return Status::Invalid(where + ": " + message);
}

std::vector<std::string> BuilderNames(const Config& config) {
  std::vector<std::string> names;
  for (const BuilderConfig& b : config.builders) names.push_back(b.name);
  return names;
}

namespace {

std::vector<std::string> WorkerNames(const Config& config) {
  std::vector<std::string> names;
  for (const WorkerConfig& w : config.workers) names.push_back(w.name);
  return names;
}

std::string TagList(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& t : tags) out += (out.empty() ? "" : ", ") + t;
  return "{ " + out + " }";
}

// Mirrors the dispatcher's rule (master/worker_registry.cc): a worker may run a builder that
// names it, or, when the builder names no workers, whose tags it has all of. An "os:NAME" tag is
// also met by the operating system a worker reports when it connects, unknown here: any
// worker may turn out to have it.
bool HasAllTags(const WorkerConfig& w, const std::vector<std::string>& tags) {
  return std::all_of(tags.begin(), tags.end(), [&](const std::string& t) {
    return t.starts_with("os:") || std::find(w.tags.begin(), w.tags.end(), t) != w.tags.end();
  });
}

Status CheckBuilder(const Config& config, const BuilderConfig& b) {
  std::string what = "builder '" + b.name + "'";
  if (!b.workers.empty()) {
    for (const std::string& name : b.workers)
      if (!config.FindWorker(name))
        return ErrorAt(b.where, what + " names unknown worker '" + name + "'" +
                                    DidYouMean(name, WorkerNames(config)));
    return Status::Ok();
  }
  if (config.workers.empty()) return ErrorAt(b.where, what + " cannot run: no worker is declared");
  bool runnable = std::any_of(config.workers.begin(), config.workers.end(),
                              [&](const WorkerConfig& w) { return HasAllTags(w, b.tags); });
  if (!runnable)
    return ErrorAt(b.where, "no worker has all the tags " + TagList(b.tags) + " of " + what +
                                ": nobody could run it (declare such a worker or list "
                                "workers = { ... })");
  return Status::Ok();
}

}  // namespace

Status FinishConfig(LoadContext& ctx) {
  Config& config = *ctx.config;
  for (const PendingDefinition& p : ctx.pending)
    if (!p.done) return ErrorAt(p.where, p.what + " has no table: write " + p.what + " { ... }");

  for (const BuilderConfig& b : config.builders) GROVE_RETURN_IF_ERROR(CheckBuilder(config, b));

  for (ForceSchedulerConfig& f : config.force_schedulers) {
    if (std::find(ctx.force_all_builders.begin(), ctx.force_all_builders.end(), f.name) !=
        ctx.force_all_builders.end()) {
      f.builders = BuilderNames(config);
      continue;
    }
    for (const std::string& name : f.builders)
      if (!config.FindBuilder(name))
        return ErrorAt(f.where, "schedule.force '" + f.name + "' names unknown builder '" + name +
                                    "'" + DidYouMean(name, BuilderNames(config)));
  }

  GROVE_RETURN_IF_ERROR(FinishSchedulers(ctx));
  GROVE_RETURN_IF_ERROR(FinishNotifiers(ctx));

  // Forcing a build from the web UI or `grove force` should work without ceremony.
  if (config.force_schedulers.empty() && !ctx.schedulers.count("force")) {
    ForceSchedulerConfig f;
    f.name = "force";
    f.builders = BuilderNames(config);
    f.where = ctx.chunk_name;
    config.force_schedulers.push_back(std::move(f));
  }
  return Status::Ok();
}

}  // namespace grove::config_internal
