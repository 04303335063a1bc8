// grove: the one binary for the master, the worker and the command-line client.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/log.h"

namespace grove {

void Fail(int code, const std::string& message) {
  std::cerr << "grove: " << message << "\n";
  throw CLI::RuntimeError(code);
}

}  // namespace grove

int main(int argc, char** argv) {
  CLI::App app{
      "Grove: distributed builds and scheduled jobs.\nA master decides what runs and when; workers "
      "run it."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "grove 0.1.0");
  grove::AddInitCommand(app);
  grove::AddMasterCommand(app);
  grove::AddWorkerCommand(app);
  grove::AddCheckconfigCommand(app);
  grove::AddReconfigCommand(app);
  grove::AddEvalConfigCommand(app);
  grove::AddForceCommand(app);
  grove::AddStatusCommand(app);
  grove::AddCronCommand(app);
  grove::AddUserCommand(app);
  grove::AddPublishCommand(app);
  grove::AddStoreCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "grove: " << e.what() << " (see --help)\n";
    return grove::kExitUsage;
  } catch (const nlohmann::json::exception& e) {
    // A field of an unexpected type in what a server answered (is GROVE_MASTER a Grove
    // master?): one line, not an abort.
    std::cerr << "grove: malformed answer: " << e.what() << "\n";
    return grove::kExitFailure;
  }
  return 0;
}
