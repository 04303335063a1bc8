// The master's configuration model, as loaded from grove.lua by LoadConfig().
// Every object remembers where it was defined ("grove.lua:12") so that later validation
// errors can name the place.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

struct WorkerConfig {
  std::string name;
  std::string secret;  // resolved value; never logged
  std::vector<std::string> tags;
  int capacity = 1;
  std::string where;
};

struct BuilderConfig {
  std::string name;
  std::vector<std::string> tags;  // a worker may run the builder if it has all these tags
  std::vector<std::string> workers;  // optional: explicit worker names
  std::vector<StepSpec> steps;
  Json properties = Json::object();
  int priority = 0;
  std::string where;
};

struct ForceSchedulerConfig {
  std::string name;
  std::vector<std::string> builders;
  std::string where;
};

struct WebConfig {
  std::string listen = "127.0.0.1:8010";
};

struct Config {
  std::string base_dir;  // the master directory; relative paths are resolved against it
  std::string file;      // the config file that was loaded
  std::string project_name = "Grove";
  std::string project_url;
  std::string store_url = "sqlite:state/grove.db";
  std::string broker_url = "embedded";
  std::vector<WorkerConfig> workers;
  std::vector<BuilderConfig> builders;
  std::vector<ForceSchedulerConfig> force_schedulers;
  WebConfig web;

  const BuilderConfig* FindBuilder(const std::string& name) const;
  const WorkerConfig* FindWorker(const std::string& name) const;
};

// Loads and validates |path| (normally DIR/grove.lua). On error the message has the form
// "grove.lua:12: builder 'x': unknown step option 'tiemout'".
Status LoadConfig(const std::string& path, Config* out);

}  // namespace grove
