// `grove-worker.exe service install|uninstall|run`: the worker as a Windows service, managed by
// the Service Control Manager (services.msc, sc.exe, net start/stop).
#pragma once

#include <string>
#include <vector>

namespace grove::windows {

// |args| are the arguments after "service" (args[0] is the exe's path). Returns the exit code.
int RunServiceCommand(const std::string& exe, std::vector<std::string> args);

}  // namespace grove::windows
