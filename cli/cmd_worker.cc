// grove worker: run builds and jobs for a master. The flags are shared with the worker binaries
// of the C++ SDK (src/worker/worker_flags.h).
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "worker/worker_flags.h"

namespace grove {

void AddWorkerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("worker", "Run a worker that takes jobs from a master");
  auto flags = std::make_shared<WorkerFlags>();
  AddWorkerFlags(*cmd, *flags);
  cmd->callback([flags] {
    bool usage_error = false;
    Status st = RunWorkerWithFlags(*flags, nullptr, &usage_error);
    if (!st.ok()) Fail(usage_error ? kExitUsage : kExitFailure, st.message());
  });
}

}  // namespace grove
