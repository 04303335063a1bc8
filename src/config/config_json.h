// Config <-> JSON: how an evaluated grove.lua travels from the evaluating child process back to
// the master or CLI (config_eval.h). Every field of the model is written, secrets included, so
// this JSON must only ever go through that pipe: never into a log, a file or an API answer.
#pragma once

#include "config/config.h"
#include "core/protocol.h"
#include "core/status.h"

namespace grove {

Json ConfigToJson(const Config& config);

// Reads what ConfigToJson wrote. Every field is required and type-checked: a missing field or a
// wrong type is an Invalid status naming the field ("builders[2].priority: expected an
// integer"), never an exception. On error |out| is left unchanged.
Status ConfigFromJson(const Json& in, Config* out);

}  // namespace grove
