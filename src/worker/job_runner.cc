#include "worker/job_runner.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <utility>

#include "core/interpolate.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/secret_mask.h"
#include "core/utf8.h"
#include "worker/path_utf8.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;

namespace {
constexpr size_t kLogChunkBytes = 64 * 1024;
constexpr auto kLogFlushDelay = std::chrono::milliseconds(100);
}  // namespace

struct JobRunner::Impl {
  Impl(asio::io_context& io, JobRunner& owner, EventSink& sink,
       std::function<void(JobRunner&, Result)> done)
      : io(io), owner(owner), sink(sink), on_done(std::move(done)), flush_timer(io) {}

  asio::io_context& io;
  JobRunner& owner;
  EventSink& sink;
  std::function<void(JobRunner&, Result)> on_done;
  asio::steady_timer flush_timer;
  bool flush_pending = false;

  size_t step = 0;
  std::unique_ptr<StepExecutor> exec;
  std::string pending;  // log bytes not yet sent
  int64_t seq = 0;      // next log chunk number of the current step
  bool paused = false;
  bool cancelled = false;
  Result cancel_result = Result::kCancelled;  // what a cancelled job (and its step) reports
  Result result = Result::kSuccess;
  // Pipelines (docs/config.md): the build's properties as they grow, the step being run with its
  // ${...} resolved, what it reports, and the halt state (only always_run steps run once set).
  Json props = Json::object();
  StepSpec current;
  Json report = Json::object();
  bool halted = false;
  int64_t step_bytes = 0;
  bool output_exceeded = false;
  std::unique_ptr<SecretMasker> masker;
  // Merged events (a master that takes them, EventSink::MergesEvents): job.started waits here
  // for the first step's start, and a step's step.finished for what follows it (the next
  // step's start, or job.finished, which then carries it). Both are emitted or merged before
  // anything else is, so the events keep their order.
  Json opening;
  Json closing;

  void EmitClosing() {
    if (!closing.is_null()) sink.Emit(std::exchange(closing, Json()));
  }

  Json Event(const char* type) const {
    return {{"type", type}, {"request", owner.job_.request_id}, {"attempt", owner.job_.attempt}};
  }

  void RunStep() {
    const auto& steps = owner.job_.steps;
    // After a halting failure only the always_run steps (cleanup) still run.
    while (halted && step < steps.size() && !BoolOr(steps[step].options, "always_run", false))
      ++step;
    if (step >= steps.size() || cancelled) return Finish();
    const StepSpec& spec = steps[step];
    seq = 0;
    step_bytes = 0;
    output_exceeded = false;
    report = Json::object();
    EmitClosing();
    // job.started + the first step's start in one event (docs/protocol.md).
    Json ev = opening.is_null() ? Event(event::kStepStarted) : std::exchange(opening, Json());
    ev["step"] = step;
    ev["name"] = spec.name;
    if (spec.options.contains("description")) ev["description"] = spec.options["description"];
    sink.Emit(std::move(ev));
    Status resolved = Resolve(spec, &current);
    if (!resolved.ok()) {
      Log(fmt::format("[grove] step '{}': {}\n", spec.name, resolved.message()));
      return StepDone(Result::kException);
    }
    exec = MakeStepExecutor(spec.type);
    if (!exec) {
      Log(fmt::format("[grove] this worker does not know step type '{}'\n", spec.type));
      return StepDone(Result::kException);
    }
    StepContext ctx;
    ctx.io = &io;
    ctx.job = &owner.job_;
    ctx.step = &current;
    ctx.builddir = owner.builddir_;
    ctx.log = [this](std::string_view s) { Log(s); };
    ctx.properties = &props;
    ctx.report = &report;
    ctx.master_url = owner.master_url_;
    ctx.in_process = owner.in_process_;
    try {
      exec->Start(ctx, [this](Result r) {
        // Leave the executor's callback before destroying it.
        asio::post(io, [this, r] { StepDone(r); });
      });
    } catch (const Json::exception& e) {
      // A step type's option of the wrong type (the job comes from the network): the step
      // ends as an exception, the worker goes on.
      Log(fmt::format("[grove] step '{}': malformed options: {}\n", spec.name, e.what()));
      exec.reset();
      StepDone(Result::kException);
    }
  }

  // The step with every ${prop:...} and ${secret:...} in its arguments resolved.
  Status Resolve(const StepSpec& spec, StepSpec* out) {
    const auto& secrets = owner.job_.secrets;
    *out = spec;
    GROVE_RETURN_IF_ERROR(Interpolate(spec.command, props, secrets, &out->command));
    for (auto& a : out->argv) GROVE_RETURN_IF_ERROR(Interpolate(a, props, secrets, &a));
    for (auto& [k, v] : out->env) GROVE_RETURN_IF_ERROR(Interpolate(v, props, secrets, &v));
    GROVE_RETURN_IF_ERROR(Interpolate(spec.workdir, props, secrets, &out->workdir));
    // Checked here, after ${...}, by the rules of this worker's file system (Windows: no drive,
    // no CON or ':'); the config only knows the master's.
    std::string dir;
    GROVE_RETURN_IF_ERROR(PathInBuildDir(owner.builddir_, out->workdir, &dir));
    return InterpolateJson(spec.options, props, secrets, &out->options);
  }

  void Log(std::string_view raw) {
    if (output_exceeded) return;  // what a killed chatty step still prints is dropped
    // Secrets never leave the worker: masked here, with a split secret held back (secret_mask.h).
    std::string data = masker->Feed(raw);
    step_bytes += static_cast<int64_t>(raw.size());
    int64_t max_output = IntOr(current.options, "max_output", 0);
    if (max_output > 0 && step_bytes > max_output && exec) {
      output_exceeded = true;
      exec->Cancel();
    }
    pending.append(data);
    if (pending.size() >= kLogChunkBytes) {
      Flush(false);
    } else if (!flush_pending) {
      flush_pending = true;
      flush_timer.expires_after(kLogFlushDelay);
      flush_timer.async_wait([this](const boost::system::error_code& ec) {
        flush_pending = false;
        if (!ec) Flush(false);
      });
    }
    if (!paused && sink.Congested() && exec) {
      paused = true;
      exec->PauseOutput();
    }
  }

  // Sends what is pending in chunks of at most kLogChunkBytes, cut on UTF-8 boundaries. At the
  // end of a step (|all|) an incomplete trailing sequence goes too.
  void Flush(bool all) {
    std::string_view rest(pending);
    while (!rest.empty()) {
      size_t n = std::min(rest.size(), kLogChunkBytes);
      size_t cut = all && n == rest.size() ? n : Utf8CompletePrefix(rest.substr(0, n));
      if (cut == 0) cut = n == kLogChunkBytes ? n : 0;  // not text: never stall on it
      if (cut == 0) break;
      EmitLog(rest.substr(0, cut));
      rest.remove_prefix(cut);
    }
    pending.erase(0, pending.size() - rest.size());
  }

  void EmitLog(std::string_view data) {
    Json ev = Event(event::kLog);
    ev["step"] = step;
    ev["seq"] = seq++;
    ev["data"] = std::string(data);
    sink.Emit(std::move(ev));
  }

  void StepDone(Result r) {
    pending.append(masker->Flush());
    if (output_exceeded)
      pending.append(fmt::format("\n[grove] output limit of {} bytes exceeded: step killed\n",
                                 IntOr(current.options, "max_output", 0)));
    Flush(true);
    flush_timer.cancel();
    exec.reset();
    paused = false;
    if (output_exceeded && r == Result::kCancelled && !cancelled) r = Result::kFailure;
    if (cancelled && r == Result::kCancelled) r = cancel_result;
    const StepSpec& spec = owner.job_.steps[step];
    Json ev = Event(event::kStepFinished);
    ev["step"] = step;
    ev["result"] = ResultName(r);
    ev["log_chunks"] = seq;  // the master checks that it stored them all
    if (report.contains("properties") && report["properties"].is_object()) {
      for (auto& [k, v] : report["properties"].items()) props[k] = v;
      ev["properties"] = report["properties"];
    }
    if (report.contains("tests")) ev["tests"] = report["tests"];
    if (report.contains("result_json")) ev["result_json"] = report["result_json"];
    if (sink.MergesEvents())
      closing = std::move(ev);  // emitted by the next step's start, or merged by Finish
    else
      sink.Emit(std::move(ev));
    // What a failure does to the build: flunk_on_failure (default) fails it, warn_on_failure
    // makes it warnings, neither leaves it alone.
    Result effect = r;
    if (r == Result::kFailure && !BoolOr(spec.options, "flunk_on_failure", true))
      effect =
          BoolOr(spec.options, "warn_on_failure", false) ? Result::kWarnings : Result::kSuccess;
    result = WorseResult(result, effect);
    ++step;
    if (r == Result::kCancelled || cancelled) return Finish();
    if ((r == Result::kFailure && spec.halt_on_failure) || r == Result::kException) halted = true;
    RunStep();
  }

  void Finish() {
    if (cancelled) result = cancel_result;
    if (!opening.is_null()) sink.Emit(std::exchange(opening, Json()));  // no step ran
    Json ev = Event(event::kJobFinished);
    if (!closing.is_null()) {
      // The last step's end in job.finished: its "result" is the job's, the step's is
      // "step_result" (docs/protocol.md).
      ev = std::exchange(closing, Json());
      ev["type"] = event::kJobFinished;
      ev["step_result"] = std::move(ev["result"]);
    }
    ev["result"] = ResultName(result);
    sink.Emit(std::move(ev));
    Result r = result;
    asio::post(io, [this, r] { on_done(owner, r); });
  }
};

JobRunner::JobRunner(asio::io_context& io, JobSpec job, std::string builddir, EventSink& sink,
                     std::function<void(JobRunner&, Result)> on_done)
    : impl_(std::make_unique<Impl>(io, *this, sink, std::move(on_done))),
      job_(std::move(job)),
      builddir_(std::move(builddir)) {}

JobRunner::~JobRunner() = default;

void JobRunner::Start() {
  std::error_code ec;
  std::filesystem::create_directories(Utf8Path(builddir_), ec);
  Json ev = impl_->Event(event::kJobStarted);
  ev["builddir"] = builddir_;
  if (impl_->sink.MergesEvents() && !job_.steps.empty())
    impl_->opening = std::move(ev);  // the first step's start carries it (RunStep)
  else
    impl_->sink.Emit(std::move(ev));
  std::vector<std::string> secret_values;  // (the owner's job_ is set only after Impl is made)
  for (const auto& [name, value] : job_.secrets) secret_values.push_back(value);
  impl_->masker = std::make_unique<SecretMasker>(std::move(secret_values));
  impl_->props = job_.properties.is_object() ? job_.properties : Json::object();
  impl_->props["builddir"] = builddir_;
  impl_->RunStep();
}

void JobRunner::Cancel(Result as) {
  impl_->cancelled = true;
  impl_->cancel_result = as;
  if (impl_->exec) impl_->exec->Cancel();
}

void JobRunner::ResumeOutput() {
  if (impl_->paused && impl_->exec) {
    impl_->paused = false;
    impl_->exec->ResumeOutput();
  }
}

}  // namespace grove
