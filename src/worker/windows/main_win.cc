// grove-worker.exe: the Grove worker for Windows. The same flags as `grove worker` on Linux
// (worker_flags.h), in embedded-broker mode.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "worker/windows/service_win.h"
#include "worker/windows/win_util.h"
#include "worker/worker_flags.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int RunMain(std::vector<std::string> args) {
  if (args.size() > 1 && args[1] == "service") {
    std::string exe = grove::windows::ExePath();
    args.erase(args.begin());
    return grove::windows::RunServiceCommand(exe, std::move(args));
  }
  CLI::App app{"grove-worker: runs builds for a Grove master (Windows worker)."};
  app.set_version_flag("--version", "grove-worker " GROVE_VERSION " (windows)");
  grove::WorkerFlags flags;
  grove::AddWorkerFlags(app, flags);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "grove-worker: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  bool usage_error = false;
  grove::Status st = grove::RunWorkerWithFlags(flags, nullptr, &usage_error);
  if (!st.ok()) {
    std::cerr << "grove-worker: " << st.message() << "\n";
    return usage_error ? kExitUsage : kExitFailure;
  }
  return 0;
}

}  // namespace

// wmain: the arguments as Windows has them (UTF-16), made UTF-8 like every string in the worker.
int wmain(int argc, wchar_t** wargv) {
  ::SetConsoleOutputCP(CP_UTF8);  // the worker's own log is UTF-8
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) args.push_back(grove::windows::Narrow(wargv[i]));
  return RunMain(std::move(args));
}
