// The job message's JSON text (ToJson(job).dump()'s content) written without building the JSON
// tree first: in distributed mode the master publishes thousands of small consumer jobs a
// second, and the tree, its copy and its teardown cost more than the rest of a job's dispatch.
#pragma once

#include <string>
#include <string_view>

#include "core/protocol.h"

namespace grove {

// The steps of a job as their JSON array text ("[{...}, ...]"): the same for every job of a
// builder, so a caller may make it once per builder and pass it to JobText.
std::string StepsText(const std::vector<StepSpec>& steps);

// ToJson(job) as text. |steps_text|: StepsText of the job's steps ("" to write job.steps).
// Strings that are not valid UTF-8 are written with replacement characters.
std::string JobText(const JobSpec& job, std::string_view steps_text = {});

}  // namespace grove
