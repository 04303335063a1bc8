// The master's side of notify::BuildControl: what the IRC bot's commands do (force a build,
// describe the queue, show a builder's last build), with the controller and the read pool.
#pragma once

#include <memory>

#include "notify/build_control.h"

namespace grove {

class Controller;
class ReadPool;

std::unique_ptr<notify::BuildControl> MakeBuildControl(Controller& controller, ReadPool& reads);

}  // namespace grove
