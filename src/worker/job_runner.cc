#include "worker/job_runner.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>

#include "core/log.h"
#include "core/utf8.h"

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
  Result result = Result::kSuccess;

  Json Event(const char* type) const {
    return {{"type", type}, {"request", owner.job_.request_id}, {"attempt", owner.job_.attempt}};
  }

  void RunStep() {
    const auto& steps = owner.job_.steps;
    if (step >= steps.size() || cancelled) return Finish();
    const StepSpec& spec = steps[step];
    seq = 0;
    Json ev = Event(event::kStepStarted);
    ev["step"] = step;
    ev["name"] = spec.name;
    sink.Emit(std::move(ev));
    exec = MakeStepExecutor(spec.type);
    if (!exec) {
      Log(fmt::format("[grove] this worker does not know step type '{}'\n", spec.type));
      return StepDone(Result::kException);
    }
    StepContext ctx;
    ctx.io = &io;
    ctx.job = &owner.job_;
    ctx.step = &spec;
    ctx.builddir = owner.builddir_;
    ctx.log = [this](std::string_view s) { Log(s); };
    exec->Start(ctx, [this](Result r) {
      // Leave the executor's callback before destroying it.
      asio::post(io, [this, r] { StepDone(r); });
    });
  }

  void Log(std::string_view data) {
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
    Flush(true);
    flush_timer.cancel();
    exec.reset();
    paused = false;
    Json ev = Event(event::kStepFinished);
    ev["step"] = step;
    ev["result"] = ResultName(r);
    sink.Emit(std::move(ev));
    result = WorseResult(result, r);
    const StepSpec& spec = owner.job_.steps[step];
    ++step;
    bool halt = (r == Result::kFailure && spec.halt_on_failure) || r == Result::kException ||
                r == Result::kCancelled;
    if (halt || cancelled) return Finish();
    RunStep();
  }

  void Finish() {
    if (cancelled) result = Result::kCancelled;
    Json ev = Event(event::kJobFinished);
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
  std::filesystem::create_directories(builddir_, ec);
  Json ev = impl_->Event(event::kJobStarted);
  ev["builddir"] = builddir_;
  impl_->sink.Emit(std::move(ev));
  impl_->RunStep();
}

void JobRunner::Cancel() {
  impl_->cancelled = true;
  if (impl_->exec) impl_->exec->Cancel();
}

void JobRunner::ResumeOutput() {
  if (impl_->paused && impl_->exec) {
    impl_->paused = false;
    impl_->exec->ResumeOutput();
  }
}

}  // namespace grove
