#include "worker/windows/service_win.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "worker/path_utf8.h"
#include "worker/windows/command_line.h"
#include "worker/windows/win_util.h"
#include "worker/worker_flags.h"

namespace grove::windows {

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct ServiceHandle {
  SC_HANDLE h = nullptr;
  explicit ServiceHandle(SC_HANDLE x) : h(x) {}
  ~ServiceHandle() {
    if (h) ::CloseServiceHandle(h);
  }
  ServiceHandle(const ServiceHandle&) = delete;
  ServiceHandle& operator=(const ServiceHandle&) = delete;
};

int Fail(const std::string& message) {
  std::cerr << "grove-worker: " << message << "\n";
  return kExitFailure;
}

// What `service run` needs to run the worker from ServiceMain (the SCM calls it on a thread of
// its own, with no way to pass it arguments of ours).
struct RunState {
  std::wstring service_name;
  WorkerFlags flags;
  SERVICE_STATUS_HANDLE status_handle = nullptr;
  SERVICE_STATUS status{};
};
RunState* g_run = nullptr;

void Report(DWORD state, DWORD exit_code = NO_ERROR, DWORD wait_hint = 0) {
  g_run->status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  g_run->status.dwCurrentState = state;
  g_run->status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  g_run->status.dwWin32ExitCode = exit_code == NO_ERROR ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  g_run->status.dwServiceSpecificExitCode = exit_code;
  g_run->status.dwWaitHint = wait_hint;
  ++g_run->status.dwCheckPoint;
  ::SetServiceStatus(g_run->status_handle, &g_run->status);
}

DWORD WINAPI OnControl(DWORD control, DWORD, void*, void*) {
  if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
    // The worker hands its running jobs back (retry) and stops, as on SIGTERM on Linux: the
    // C runtime delivers the signal to the worker's Asio signal_set.
    Report(SERVICE_STOP_PENDING, NO_ERROR, 10000);
    std::raise(SIGTERM);
    return NO_ERROR;
  }
  return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

void WINAPI ServiceMain(DWORD, wchar_t**) {
  g_run->status_handle =
      ::RegisterServiceCtrlHandlerExW(g_run->service_name.c_str(), OnControl, nullptr);
  if (!g_run->status_handle) return;
  Report(SERVICE_RUNNING);
  // A service has no console: its log goes to WORKDIR\grove-worker.log.
  std::filesystem::path log = Utf8Path(g_run->flags.workdir) / "grove-worker.log";
  std::error_code ec;
  std::filesystem::create_directories(log.parent_path(), ec);
  // spdlog writes to the Win32 handle, the C runtime to its FILE: both go to the file.
  HANDLE file = ::CreateFileW(log.c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
                              nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file != INVALID_HANDLE_VALUE) ::SetStdHandle(STD_ERROR_HANDLE, file);
  _wfreopen(log.c_str(), L"a", stderr);
  bool usage_error = false;
  Status st = RunWorkerWithFlags(g_run->flags, nullptr, &usage_error);
  if (!st.ok()) std::fprintf(stderr, "grove-worker: %s\n", st.message().c_str());
  std::fflush(stderr);
  Report(SERVICE_STOPPED, st.ok() ? NO_ERROR : (usage_error ? kExitUsage : kExitFailure));
}

std::string Absolute(const std::string& path) {
  return PathUtf8(std::filesystem::absolute(Utf8Path(path)));
}

// The worker's own flags, as `service run` will be given them.
std::vector<std::string> FlagArgs(const WorkerFlags& f) {
  std::vector<std::string> out = {"--master",      f.master,
                                  "--name",        f.name,
                                  "--secret-file", Absolute(f.secret_file),
                                  "--workdir",     Absolute(f.workdir),
                                  "--log-level",   f.log_level};
  if (f.master.empty()) out.erase(out.begin(), out.begin() + 2);
  if (f.capacity > 0) out.insert(out.end(), {"--capacity", std::to_string(f.capacity)});
  return out;
}

int Install(const std::string& exe, const std::string& service, const WorkerFlags& flags) {
  std::vector<std::string> argv = {exe, "service", "run", "--service-name", service};
  for (auto& a : FlagArgs(flags)) argv.push_back(a);
  std::wstring command_line = Widen(BuildCommandLine(argv));
  ServiceHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!scm.h)
    return Fail("cannot open the service manager (run as Administrator): " +
                ErrorMessage(::GetLastError()));
  std::wstring name = Widen(service);
  std::wstring display = L"Grove worker " + Widen(flags.name);
  ServiceHandle svc(::CreateServiceW(scm.h, name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                     SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                     SERVICE_ERROR_NORMAL, command_line.c_str(), nullptr, nullptr,
                                     nullptr, nullptr, nullptr));
  if (!svc.h)
    return Fail("cannot create service '" + service + "': " + ErrorMessage(::GetLastError()));
  SERVICE_DESCRIPTIONW description{
      const_cast<wchar_t*>(L"Runs builds for a Grove master (grove-worker.exe).")};
  ::ChangeServiceConfig2W(svc.h, SERVICE_CONFIG_DESCRIPTION, &description);
  // Started again 10 s after a crash (the master hands its jobs out again meanwhile).
  SC_ACTION restart[3] = {
      {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW failure{86400, nullptr, nullptr, 3, restart};
  ::ChangeServiceConfig2W(svc.h, SERVICE_CONFIG_FAILURE_ACTIONS, &failure);
  std::cout << "service '" << service << "' installed (automatic start); start it with: sc.exe "
            << "start " << service << "\nlog: " << Absolute(flags.workdir)
            << "\\grove-worker.log\n";
  return 0;
}

int Uninstall(const std::string& service) {
  ServiceHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.h)
    return Fail("cannot open the service manager (run as Administrator): " +
                ErrorMessage(::GetLastError()));
  ServiceHandle svc(
      ::OpenServiceW(scm.h, Widen(service).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!svc.h) return Fail("no service '" + service + "': " + ErrorMessage(::GetLastError()));
  SERVICE_STATUS status{};
  if (::ControlService(svc.h, SERVICE_CONTROL_STOP, &status)) {
    for (int i = 0; i < 150 && status.dwCurrentState != SERVICE_STOPPED; ++i) {
      ::Sleep(200);
      if (!::QueryServiceStatus(svc.h, &status)) break;
    }
  }
  if (!::DeleteService(svc.h))
    return Fail("cannot remove service '" + service + "': " + ErrorMessage(::GetLastError()));
  std::cout << "service '" << service << "' removed\n";
  return 0;
}

}  // namespace

int RunServiceCommand(const std::string& exe, std::vector<std::string> args) {
  CLI::App app{"Runs grove-worker.exe as a Windows service."};
  app.name("grove-worker.exe service");
  app.require_subcommand(1);
  std::string service = "grove-worker";
  WorkerFlags install_flags, run_flags;
  auto* install = app.add_subcommand(
      "install",
      "Install the worker as a service that starts with Windows (as LocalSystem; "
      "change the account with sc.exe config NAME obj= ... password= ...)");
  install->add_option("--service-name", service, "The service's name")->capture_default_str();
  AddWorkerFlags(*install, install_flags);
  auto* uninstall = app.add_subcommand("uninstall", "Stop and remove the service");
  uninstall->add_option("--service-name", service, "The service's name")->capture_default_str();
  auto* run = app.add_subcommand("run", "Run as the service (the service manager calls this)");
  run->add_option("--service-name", service, "The service's name")->capture_default_str();
  AddWorkerFlags(*run, run_flags);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "grove-worker: " << e.what() << " (see service --help)\n";
    return kExitUsage;
  }
  if (*install) return Install(exe, service, install_flags);
  if (*uninstall) return Uninstall(service);
  RunState state;
  state.service_name = Widen(service);
  state.flags = run_flags;
  g_run = &state;
  SERVICE_TABLE_ENTRYW table[] = {{state.service_name.data(), ServiceMain}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table))
    return Fail("`service run` is for the service manager: " + ErrorMessage(::GetLastError()));
  return static_cast<int>(state.status.dwServiceSpecificExitCode);
}

}  // namespace grove::windows
