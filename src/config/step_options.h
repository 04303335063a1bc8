// What the step functions share: the name, the command (shell, test, set_property) and the
// options every step accepts (env, workdir, timeout, halt/flunk/warn_on_failure, always_run,
// description, max_output, decode_rc). Each step function reads these first, then its own
// options, then calls TableReader::Finish.
#pragma once

#include <optional>
#include <string>

#include "config/table_reader.h"
#include "core/protocol.h"

namespace grove::config_internal {

// Reads name = and names |t| after it ("git step 'checkout'"). |kind|: "git".
std::optional<std::string> ReadStepName(TableReader& t, const std::string& kind);

// Reads the shared options into |step| (fields and step.options).
void ReadCommonStepOptions(lua_State* L, TableReader& t, StepSpec* step);

// Reads the command (value #1, command = or argv =). Call Check after Finish: it throws when
// none (and |required|) or more than one was given.
struct CommandOptions {
  std::optional<std::string> positional, command;
  std::optional<std::vector<std::string>> argv;
  // The shell a command runs through (sh, cmd, powershell, pwsh); unset: the worker's default.
  std::optional<std::string> shell;
  void Read(TableReader& t);
  // Fills step.command or step.argv; false when none was given and it is not required.
  bool Apply(const TableReader& t, bool required, StepSpec* step);
};

// Throws when |path| (an option's value) is absolute or climbs out with "..".
void CheckRelativePath(const TableReader& t, const char* option, const std::string& path);

}  // namespace grove::config_internal
