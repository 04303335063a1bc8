// The grove subcommands. Each Add*Command registers one subcommand (and its callback) on the
// application; the callbacks throw CLI::RuntimeError(code) to exit with a code.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace grove {

// Exit codes shared by every command (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // an error, or a build that failed
inline constexpr int kExitUsage = 2;        // bad arguments or invalid input
inline constexpr int kExitException = 3;    // a build that ended in exception or was cancelled
inline constexpr int kExitUnreachable = 4;  // the master could not be reached

void AddInitCommand(CLI::App& app);
void AddMasterCommand(CLI::App& app);
void AddWorkerCommand(CLI::App& app);
void AddCheckconfigCommand(CLI::App& app);
void AddReconfigCommand(CLI::App& app);
void AddEvalConfigCommand(CLI::App& app);  // internal: cmd_master.cc
void AddForceCommand(CLI::App& app);
void AddStatusCommand(CLI::App& app);
void AddCronCommand(CLI::App& app);
void AddUserCommand(CLI::App& app);
void AddPublishCommand(CLI::App& app);  // cmd_publish.cc
void AddStoreCommand(CLI::App& app);    // cmd_store.cc

// Prints "grove: MESSAGE" on stderr and exits with |code| (throws CLI::RuntimeError).
[[noreturn]] void Fail(int code, const std::string& message);

}  // namespace grove
