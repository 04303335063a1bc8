// ChildProcess (child_process.h) on Windows: CreateProcessW into a Job Object, one overlapped
// named pipe for stdout+stderr, the process handle for the exit, all driven by Asio (IOCP) on the
// io_context's thread.
//
// The Job Object is the process group of Windows: every process the command starts (cmd.exe's
// children, their children) is in it, and TerminateJobObject ends them all at once. It is made
// with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so even a worker that dies takes the tree with it.
// Windows has no SIGTERM for a console program that owns no console of ours, so a timeout or a
// cancel terminates the job at once (kill_grace is not used).
//
// Output: what the program prints is passed on as bytes, CRLF and all. A chunk that is not
// UTF-8 is taken to be in the console's code page (what cmd.exe and most console programs use
// when their output is a pipe) and converted to UTF-8.
//
// Lifetime and the exit/EOF join are as in the POSIX implementation (child_process.cc).
#include <algorithm>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/windows/object_handle.hpp>
#include <boost/asio/windows/stream_handle.hpp>
#include <cwctype>
#include <filesystem>
#include <map>
#include <utility>

#include "worker/child_process.h"
#include "worker/windows/command_line.h"
#include "worker/windows/win_util.h"

namespace grove {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using windows::ErrorMessage;
using windows::UniqueHandle;
using windows::Widen;

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr milliseconds kEofGraceAfterExit{2000};
// The exit code a terminated job's processes get (what a timeout or cancel shows in a log).
constexpr UINT kKilledExitCode = 0xC000013A;  // STATUS_CONTROL_C_EXIT, as Ctrl+C would give

// Is |s| UTF-8, allowing a sequence cut at the end (the next chunk completes it)?
bool LooksUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0) return false;
    for (size_t k = 1; k < n; ++k) {
      if (i + k >= s.size()) return true;  // truncated at the end
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// The worker's environment with |overrides| replacing (names compared without case, as
// Windows does) or adding variables, as a sorted UTF-16 environment block.
std::wstring BuildEnvBlock(const std::map<std::string, std::string>& overrides) {
  auto upper = [](std::wstring s) {
    for (auto& c : s) c = static_cast<wchar_t>(std::towupper(c));
    return s;
  };
  std::map<std::wstring, std::wstring> vars;  // upper-cased name → "Name=value"
  if (wchar_t* env = ::GetEnvironmentStringsW()) {
    for (const wchar_t* p = env; *p; p += wcslen(p) + 1) {
      std::wstring entry(p);
      // "=C:=C:\dir" entries (per-drive directories) have a name starting with '='.
      size_t eq = entry.find(L'=', 1);
      vars[upper(entry.substr(0, eq))] = entry;
    }
    ::FreeEnvironmentStringsW(env);
  }
  for (const auto& [name, value] : overrides) {
    std::wstring wname = Widen(name);
    vars[upper(wname)] = wname + L"=" + Widen(value);
  }
  std::wstring block;
  for (const auto& [key, entry] : vars) {
    block += entry;
    block.push_back(L'\0');
  }
  block.push_back(L'\0');
  return block;
}

// A pipe whose read end supports overlapped I/O (anonymous pipes do not): a uniquely named
// pipe, inbound for us; the write end is what the child inherits as stdout and stderr.
bool MakeOutputPipe(UniqueHandle* read_end, UniqueHandle* write_end, std::string* error) {
  static std::atomic<unsigned> counter{0};
  std::wstring name = L"\\\\.\\pipe\\grove-worker-" + std::to_wstring(::GetCurrentProcessId()) +
                      L"-" + std::to_wstring(++counter) + L"-" +
                      std::to_wstring(::GetTickCount64());
  read_end->reset(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 0, kReadBufferSize, 0, nullptr));
  if (!*read_end) {
    *error = "cannot create a pipe: " + ErrorMessage(::GetLastError());
    return false;
  }
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  write_end->reset(::CreateFileW(name.c_str(), GENERIC_WRITE, 0, &inherit, OPEN_EXISTING,
                                 FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!*write_end) {
    *error = "cannot open a pipe: " + ErrorMessage(::GetLastError());
    return false;
  }
  return true;
}

struct Spawned {
  UniqueHandle process;
  UniqueHandle job;
  UniqueHandle output;
  DWORD pid = 0;
  std::string error;
};

Spawned Spawn(const ChildOptions& opts) {
  Spawned result;
  if (opts.argv.empty() || opts.argv[0].empty()) {
    result.error = "cannot run an empty command";
    return result;
  }
  const std::string& program = opts.argv[0];
  if (!opts.workdir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(Widen(opts.workdir)), ec);
    if (ec) {
      result.error = "cannot create workdir '" + opts.workdir + "': " + ec.message();
      return result;
    }
  }
  UniqueHandle write_end;
  if (!MakeOutputPipe(&result.output, &write_end, &result.error)) {
    result.error = "cannot run '" + program + "': " + result.error;
    return result;
  }
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  std::wstring in_name = opts.stdin_file.empty() ? L"NUL" : Widen(opts.stdin_file);
  UniqueHandle std_in(::CreateFileW(in_name.c_str(), GENERIC_READ,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING, 0,
                                    nullptr));
  if (!std_in && !opts.stdin_file.empty()) {
    result.error = "cannot read " + opts.stdin_file + ": " + ErrorMessage(::GetLastError());
    return result;
  }
  UniqueHandle std_out;
  if (!opts.stdout_file.empty()) {
    std_out.reset(::CreateFileW(Widen(opts.stdout_file).c_str(), GENERIC_WRITE, FILE_SHARE_READ,
                                &inherit, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!std_out) {
      result.error = "cannot write " + opts.stdout_file + ": " + ErrorMessage(::GetLastError());
      return result;
    }
  }

  result.job.reset(::CreateJobObjectW(nullptr, nullptr));
  if (!result.job) {
    result.error = "cannot create a job object: " + ErrorMessage(::GetLastError());
    return result;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  ::SetInformationJobObject(result.job.get(), JobObjectExtendedLimitInformation, &limits,
                            sizeof limits);

  // Only these handles are inherited, not every inheritable handle of the worker (another
  // step's pipe, a socket), which would hold them open as long as this child lives.
  HANDLE inherited[3] = {write_end.get()};
  DWORD n_inherited = 1;
  if (std_in) inherited[n_inherited++] = std_in.get();
  if (std_out) inherited[n_inherited++] = std_out.get();
  SIZE_T attr_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
  std::vector<char> attr_buf(attr_size);
  auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buf.data());
  bool have_attrs =
      ::InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size) &&
      ::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                  n_inherited * sizeof(HANDLE), nullptr, nullptr);

  STARTUPINFOEXW si{};
  si.StartupInfo.cb = have_attrs ? sizeof(si) : sizeof(si.StartupInfo);
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = std_in ? std_in.get() : nullptr;
  si.StartupInfo.hStdOutput = std_out ? std_out.get() : write_end.get();
  si.StartupInfo.hStdError = write_end.get();
  if (have_attrs) si.lpAttributeList = attrs;

  std::wstring command_line =
      Widen(opts.command_line.empty() ? windows::BuildCommandLine(opts.argv) : opts.command_line);
  std::wstring env = BuildEnvBlock(opts.env);
  std::wstring workdir = Widen(opts.workdir);
  // With an application name CreateProcessW does no PATH search; cmd.exe & co. come with one.
  std::wstring application;
  bool absolute_program = std::filesystem::path(program).is_absolute();
  if (!opts.command_line.empty() && absolute_program) application = Widen(program);
  PROCESS_INFORMATION pi{};
  DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW |
                (have_attrs ? EXTENDED_STARTUPINFO_PRESENT : 0);
  BOOL ok = ::CreateProcessW(application.empty() ? nullptr : application.c_str(),
                             command_line.data(), nullptr, nullptr, TRUE, flags, env.data(),
                             workdir.empty() ? nullptr : workdir.c_str(), &si.StartupInfo, &pi);
  DWORD err = ::GetLastError();
  if (have_attrs) ::DeleteProcThreadAttributeList(attrs);
  if (!ok) {
    DWORD attributes = workdir.empty() ? 0 : ::GetFileAttributesW(workdir.c_str());
    if (!workdir.empty() &&
        (attributes == INVALID_FILE_ATTRIBUTES || !(attributes & FILE_ATTRIBUTE_DIRECTORY))) {
      result.error = "cannot enter workdir '" + opts.workdir + "': " + ErrorMessage(err);
    } else {
      result.error = "cannot run '" + program + "': " + ErrorMessage(err);
    }
    return result;
  }
  UniqueHandle thread(pi.hThread);
  result.process.reset(pi.hProcess);
  result.pid = pi.dwProcessId;
  // In the job before it runs a single instruction, so no grandchild can be born outside it.
  if (!::AssignProcessToJobObject(result.job.get(), pi.hProcess)) {
    // A worker inside a job that forbids nesting (Windows 7): the tree cannot be tracked.
    result.job.reset();
  }
  ::ResumeThread(thread.get());
  return result;  // |write_end| closes here: the child holds the only copies, so EOF can come
}

class ChildState : public std::enable_shared_from_this<ChildState> {
 public:
  ChildState(asio::io_context& io, ChildProcess::OutputFn on_output, ChildProcess::ExitFn on_exit)
      : io_(io),
        on_output_(std::move(on_output)),
        on_exit_(std::move(on_exit)),
        pipe_(io),
        process_(io),
        timeout_timer_(io),
        eof_timer_(io),
        buffer_(kReadBufferSize) {}

  void Begin(const ChildOptions& opts) {
    Spawned spawned = Spawn(opts);
    if (!spawned.error.empty()) {
      exit_.error = std::move(spawned.error);
      reaped_ = pipe_eof_ = true;
      asio::post(io_, [self = shared_from_this()] {
        if (!self->detached_) self->MaybeFinish();
      });
      return;
    }
    pid_ = static_cast<int>(spawned.pid);
    job_ = std::move(spawned.job);
    boost::system::error_code ec;
    pipe_.assign(spawned.output.get(), ec);
    if (ec) {
      pipe_eof_ = true;
    } else {
      spawned.output.release();
      StartRead();
    }
    process_.assign(spawned.process.release(), ec);
    process_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->OnProcessExit(ec);
    });
    if (opts.timeout.count() > 0) {
      timeout_timer_.expires_after(opts.timeout);
      timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->detached_ || self->reaped_ || self->terminating_) return;
        self->exit_.timed_out = true;
        self->Terminate();
      });
    }
  }

  void Detach() {
    detached_ = true;
    if (pid_ > 0 && !reaped_) {
      KillTree();
      if (process_.is_open()) ::WaitForSingleObject(process_.native_handle(), 5000);
      reaped_ = true;
    }
    CloseAll();
    on_exit_ = nullptr;
    if (!in_output_callback_) on_output_ = nullptr;
  }

  void Cancel() {
    if (pid_ <= 0 || reaped_ || terminating_ || detached_) return;
    exit_.cancelled = true;
    Terminate();
  }

  void PauseOutput() { paused_ = true; }

  void ResumeOutput() {
    if (!paused_) return;
    paused_ = false;
    if (in_output_callback_ || finished_ || detached_) return;
    if (stashed_ > 0) {
      if (!flush_posted_) {
        flush_posted_ = true;
        asio::post(io_, [self = shared_from_this()] {
          self->flush_posted_ = false;
          self->Flush();
        });
      }
      return;
    }
    StartRead();
  }

  int pid() const { return pid_; }

 private:
  void StartRead() {
    if (read_pending_ || paused_ || pipe_eof_ || detached_ || in_output_callback_ || stashed_ > 0)
      return;
    read_pending_ = true;
    pipe_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    read_pending_ = false;
    if (detached_ || finished_) return;
    if (n > 0) {
      if (paused_) {
        stashed_ = n;
        return;
      }
      Deliver(n);
      return;
    }
    if (ec == asio::error::operation_aborted) return;
    // ERROR_BROKEN_PIPE (every writer has closed it) is Windows' EOF; other errors end it too.
    pipe_eof_ = true;
    boost::system::error_code ignored;
    pipe_.close(ignored);
    eof_timer_.cancel();
    MaybeFinish();
  }

  void Flush() {
    if (detached_ || finished_ || paused_) return;
    if (stashed_ > 0) {
      Deliver(std::exchange(stashed_, 0));
    } else {
      StartRead();
    }
  }

  void Deliver(size_t n) {
    std::string_view chunk(buffer_.data(), n);
    std::string converted;
    if (!LooksUtf8(chunk)) {
      // The child has a console of its own (CREATE_NO_WINDOW), in the system's OEM code page.
      converted = windows::CodePageToUtf8(chunk, ::GetOEMCP());
      chunk = converted;
    }
    in_output_callback_ = true;
    if (on_output_) on_output_(chunk);
    in_output_callback_ = false;
    if (detached_) {
      on_output_ = nullptr;
      return;
    }
    StartRead();
  }

  void OnProcessExit(const boost::system::error_code& ec) {
    if (detached_ || reaped_ || ec == asio::error::operation_aborted) return;
    DWORD code = 0;
    if (::GetExitCodeProcess(process_.native_handle(), &code))
      exit_.exit_code = static_cast<int>(code);
    // What the command left running in the background would hold the pipe open (and outlive
    // the step): the step is over, so is its tree.
    KillTree();
    reaped_ = true;
    timeout_timer_.cancel();
    boost::system::error_code ignored;
    process_.close(ignored);
    if (!pipe_eof_) {
      eof_timer_.expires_after(kEofGraceAfterExit);
      ArmEofTimer();
    }
    MaybeFinish();
  }

  void ArmEofTimer() {
    eof_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->detached_ || self->finished_ || self->pipe_eof_) return;
      if (self->paused_ || self->stashed_ > 0) {
        self->eof_timer_.expires_after(kEofGraceAfterExit);
        self->ArmEofTimer();
        return;
      }
      // Held open by a process outside the job (one that broke away): stop waiting for it.
      self->pipe_eof_ = true;
      boost::system::error_code ignored;
      self->pipe_.close(ignored);
      self->MaybeFinish();
    });
  }

  void Terminate() {
    terminating_ = true;
    KillTree();
  }

  void KillTree() {
    if (job_) {
      ::TerminateJobObject(job_.get(), kKilledExitCode);
    } else if (process_.is_open()) {
      ::TerminateProcess(process_.native_handle(), kKilledExitCode);
    }
  }

  void MaybeFinish() {
    if (finished_ || !reaped_ || !pipe_eof_) return;
    finished_ = true;
    CloseAll();
    on_output_ = nullptr;
    ChildProcess::ExitFn on_exit = std::move(on_exit_);
    on_exit_ = nullptr;
    if (on_exit) on_exit(exit_);
  }

  void CloseAll() {
    boost::system::error_code ignored;
    pipe_.close(ignored);
    process_.close(ignored);
    timeout_timer_.cancel();
    eof_timer_.cancel();
    job_.reset();  // KILL_ON_JOB_CLOSE: nothing of the tree survives its job
  }

  asio::io_context& io_;
  ChildProcess::OutputFn on_output_;
  ChildProcess::ExitFn on_exit_;
  asio::windows::stream_handle pipe_;
  asio::windows::object_handle process_;
  asio::steady_timer timeout_timer_;
  asio::steady_timer eof_timer_;
  std::vector<char> buffer_;
  UniqueHandle job_;
  int pid_ = -1;
  ChildExit exit_;
  size_t stashed_ = 0;
  bool reaped_ = false;
  bool pipe_eof_ = false;
  bool finished_ = false;
  bool detached_ = false;
  bool terminating_ = false;
  bool paused_ = false;
  bool read_pending_ = false;
  bool in_output_callback_ = false;
  bool flush_posted_ = false;
};

class ChildHandle final : public ChildProcess {
 public:
  explicit ChildHandle(std::shared_ptr<ChildState> state) : state_(std::move(state)) {}
  ~ChildHandle() override { state_->Detach(); }

  void Cancel() override { state_->Cancel(); }
  void PauseOutput() override { state_->PauseOutput(); }
  void ResumeOutput() override { state_->ResumeOutput(); }
  int pid() const override { return state_->pid(); }

 private:
  std::shared_ptr<ChildState> state_;
};

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Start(boost::asio::io_context& io,
                                                  const ChildOptions& opts, OutputFn on_output,
                                                  ExitFn on_exit) {
  auto state = std::make_shared<ChildState>(io, std::move(on_output), std::move(on_exit));
  state->Begin(opts);
  return std::make_unique<ChildHandle>(std::move(state));
}

}  // namespace grove
