#include "worker/consume_step.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <system_error>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>

#include "core/fd_util.h"
#endif

#include "core/json_fields.h"
#include "worker/command_sequence.h"
#include "worker/in_process_consumers.h"
#include "worker/path_utf8.h"
#include "worker/plain_command.h"
#include "worker/platform.h"

namespace grove {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxResult = 1024 * 1024;

// A pair of files per job, created and deleted around it. Reusing one pair per build directory
// and emptying it instead looks cheaper but is not: on ext4, shrinking a file that has data
// frees its blocks (a synchronous discard on a volume mounted with `discard`) and makes the next
// close flush, milliseconds per job against tens of microseconds for a create and an unlink.

// Writes |data| to a new file |path|.
bool WriteFile(const std::filesystem::path& path, const std::string& data) {
#ifdef _WIN32
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out.flush());
#else
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd) return false;
  std::string_view rest(data);
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return true;
#endif
}

// Reads |path| (up to |limit| + 1 bytes: more is too much anyway) and deletes it. False when
// larger than |limit|.
bool TakeFile(const std::filesystem::path& path, size_t limit, std::string* out) {
  out->clear();
#ifdef _WIN32
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  if (in) buf << in.rdbuf();
  in.close();
  *out = buf.str();
#else
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return true;  // not there (the command could not start): nothing printed
  char buf[16 * 1024];
  while (out->size() <= limit) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
#endif
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return out->size() <= limit;
}

}  // namespace

// An in-process call's state, shared by the step (io thread) and the pool thread running the
// consumer. |live| is cleared when the step goes (job finished or the worker stopping): what the
// consumer still logs or returns after that is dropped instead of reaching a destroyed runner.
struct ConsumeStep::Call {
  std::mutex mu;
  boost::asio::io_context* io = nullptr;  // under mu; null once the step is gone
  bool live = true;                       // io thread only
  std::atomic<bool> cancelled{false};
  bool timed_out = false;  // io thread only

  // From any thread: runs |fn| on the io thread while the step lives.
  void Post(std::function<void()> fn, const std::shared_ptr<Call>& self) {
    std::lock_guard lock(mu);
    if (!io) return;
    asio::post(*io, [self, fn = std::move(fn)] {
      if (self->live) fn();
    });
  }
};

struct ConsumeStep::Timeout {
  explicit Timeout(boost::asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
};

ConsumeStep::ConsumeStep() = default;

ConsumeStep::~ConsumeStep() {
  if (call_) {
    call_->live = false;
    std::lock_guard lock(call_->mu);
    call_->io = nullptr;
    call_->cancelled = true;  // nobody waits for it any more: let a polite consumer stop early
  }
}

void ConsumeStep::StartInProcess(const StepContext& ctx, const std::string& name, Json payload,
                                 std::function<void(Result)> done) {
  const InProcessConsumerFn* fn = ctx.in_process->Find(name);
  auto call = std::make_shared<Call>();
  call->io = ctx.io;
  call_ = call;
  auto log = ctx.log;
  const int64_t timeout_s = ctx.step->timeout_s;
  if (timeout_s > 0) {
    timeout_ = std::make_unique<Timeout>(*ctx.io);
    timeout_->timer.expires_after(std::chrono::seconds(timeout_s));
    timeout_->timer.async_wait([call, log, timeout_s](const boost::system::error_code& ec) {
      if (ec || !call->live) return;
      call->timed_out = true;
      call->cancelled = true;
      log(fmt::format("\n[grove] step timed out after {}s: consumer asked to stop\n", timeout_s));
    });
  }
  Json* report = ctx.report;
  // The consumer's view of the call; it lives in the task, on the pool thread.
  InProcessCall in;
  in.payload = std::move(payload);
  in.consumer = name;
  in.request_id = ctx.job->request_id;
  in.attempt = ctx.job->attempt;
  in.cancelled = &call->cancelled;
  in.log = [call, log](std::string_view text) {
    call->Post([log, text = std::string(text)] { log(text); }, call);
  };
  auto task = [call, fn, in = std::move(in), log, done, report] {
    InProcessReply reply;
    try {
      reply = (*fn)(in);
    } catch (const std::exception& e) {
      reply = {Result::kException, nullptr, fmt::format("[grove] consumer threw: {}", e.what())};
    } catch (...) {
      reply = {Result::kException, nullptr, "[grove] consumer threw a non-standard exception"};
    }
    // The result's size is checked here, off the io thread, like its JSON-ness for commands.
    if (!reply.result_json.is_null() && reply.result_json.dump().size() > kMaxResult) {
      reply.result_json = nullptr;
      reply.message += "\n[grove] the consumer's result is larger than 1 MiB: dropped";
      if (reply.result == Result::kSuccess) reply.result = Result::kFailure;
    }
    call->Post(
        [call, reply = std::move(reply), log, done, report]() mutable {
          if (!reply.message.empty()) {
            if (reply.message.back() != '\n') reply.message += '\n';
            log(reply.message);
          }
          Result r = reply.result;
          // Cancelled or timed out while it ran: the step says so whatever the consumer
          // returned (the job runner turns kCancelled into the job's cancel result).
          if (call->timed_out) {
            r = WorseResult(r, Result::kFailure);
          } else if (call->cancelled) {
            r = Result::kCancelled;
          } else if (report && !reply.result_json.is_null()) {
            (*report)["result_json"] = std::move(reply.result_json);
          }
          call->live = false;  // done is called once
          done(r);
        },
        call);
  };
  // With the io_context: a pool thread's wake-up waits for the io thread's ready handlers, and
  // the consumer calls of the jobs they start share it (InProcessConsumers::Submit).
  ctx.in_process->Submit(std::move(task), ctx.io);
}

void ConsumeStep::Start(const StepContext& ctx, std::function<void(Result)> done) {
  const StepSpec& spec = *ctx.step;
  auto log = ctx.log;
  std::string name = StringOr(spec.options, "consumer", "");
  const bool in_process = ctx.in_process && ctx.in_process->Find(name);
  auto it = ctx.job->consumers.find(name);
  if (name.empty() || (!in_process && it == ctx.job->consumers.end())) {
    log(
        fmt::format("[grove] this worker has no consumer '{}' (grove worker --consumer "
                    "NAME=COMMAND)\n",
                    name));
    return done(Result::kException);
  }
  Json payload = spec.options.value("payload", Json::object());
  // Consumer jobs (the implicit "consume:NAME" builders) take it from a property instead.
  std::string from = StringOr(spec.options, "payload_property", "");
  if (!from.empty()) {
    payload = Json::object();
    if (ctx.properties && ctx.properties->contains(from)) payload = (*ctx.properties)[from];
  }
  if (in_process) return StartInProcess(ctx, name, std::move(payload), std::move(done));
  // One pair of files per step, next to the build directory's other contents. No stale result
  // file is removed first: the command's stdout truncates it, and the result of a command that
  // could not start is not read.
  std::filesystem::path dir = Utf8Path(ctx.builddir);
  std::string stem = fmt::format(".grove-consume-{}-{}", ctx.job->request_id, ctx.job->attempt);
  std::filesystem::path payload_file = dir / (stem + ".payload.json");
  std::filesystem::path result_file = dir / (stem + ".result.json");
  if (!WriteFile(payload_file, payload.dump())) {
    log(fmt::format("[grove] cannot write {}\n", PathUtf8(payload_file)));
    return done(Result::kException);
  }
  ChildOptions opts;
  // The redirections apply to the whole command, so it may be any shell text. A plain one runs
  // without the shell: one process per job instead of two (unless the step sets PATH, which the
  // program would be looked up in).
  if (spec.env.contains("PATH") || !SplitPlainCommand(it->second, &opts.argv)) {
    if (Status st = SetShellCommand(it->second, "", &opts); !st.ok()) {
      log(fmt::format("[grove] {}\n", st.message()));
      return done(Result::kException);
    }
  }
  opts.stdin_file = PathUtf8(payload_file);
  opts.stdout_file = PathUtf8(result_file);
  opts.env = spec.env;
  opts.env["GROVE_CONSUMER"] = name;
  opts.env["GROVE_PAYLOAD_FILE"] = PathUtf8(payload_file);
  opts.env["GROVE_RESULT_FILE"] = PathUtf8(result_file);
  opts.workdir = StepDir(ctx);
  opts.timeout = std::chrono::seconds(spec.timeout_s);
  int64_t timeout = spec.timeout_s;
  Json* report = ctx.report;
  child_ = ChildProcess::Start(
      *ctx.io, opts, [log](std::string_view chunk) { log(chunk); },
      [log, done, timeout, report, payload_file, result_file](const ChildExit& exit) {
        Result r = ResultOfExit(exit, timeout, nullptr, log);
        std::error_code ec;
        std::filesystem::remove(payload_file, ec);
        std::string out;
        const bool fits = TakeFile(result_file, kMaxResult, &out);
        // A command that could not start printed nothing (the file may hold a stale result).
        if (!exit.error.empty()) return done(r);
        if (!fits) {
          log("[grove] the consumer's result is larger than 1 MiB: dropped\n");
          return done(r == Result::kSuccess ? Result::kFailure : r);
        }
        if (out.find_first_not_of(" \t\r\n") == std::string::npos) return done(r);
        Json result = ParseUntrusted(out);
        if (result.is_discarded()) {
          log("[grove] the consumer's result (its stdout) is not JSON (or nests too deep)\n");
          return done(r == Result::kSuccess ? Result::kFailure : r);
        }
        if (report) (*report)["result_json"] = std::move(result);
        done(r);
      });
}

void ConsumeStep::Cancel() {
  if (child_) child_->Cancel();
  if (call_) call_->cancelled = true;
}
void ConsumeStep::PauseOutput() {
  if (child_) child_->PauseOutput();
}
void ConsumeStep::ResumeOutput() {
  if (child_) child_->ResumeOutput();
}

}  // namespace grove
