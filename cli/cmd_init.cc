// grove init DIR: a new master directory from the quickstart.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "quickstart_files.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

// 32 random bytes as hex, from the kernel.
std::string RandomSecret() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes))
    Fail(kExitFailure, "cannot read /dev/urandom");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

void Init(const std::string& dir) {
  fs::path root(dir);
  if (fs::exists(root / "grove.lua"))
    Fail(kExitFailure, (root / "grove.lua").string() + " already exists; not overwriting it");
  std::error_code ec;
  fs::create_directories(root / "secrets", ec);
  if (!ec) fs::create_directories(root / "state", ec);
  if (ec) Fail(kExitFailure, "cannot create " + dir + ": " + ec.message());
  for (size_t i = 0; i < kQuickstartFilesCount; ++i) {
    std::ofstream out(root / std::string(kQuickstartFiles[i].path).substr(1));
    out << kQuickstartFiles[i].text();
    if (!out) Fail(kExitFailure, "cannot write into " + dir);
  }
  // Each new master gets its own secret for the local worker; only the owner may read it.
  fs::path secret = root / "secrets" / "local";
  {
    std::ofstream out(secret);
    out << RandomSecret() << "\n";
  }
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::permissions(root / "secrets", fs::perms::owner_all, ec);
  fs::permissions(root / "state", fs::perms::owner_all, ec);  // the store: logs, properties
  std::cout << "Created a Grove master in " << dir << "\n"
            << "  start it:        grove master " << dir << "\n"
            << "  start a worker:  grove worker --name local --secret-file " << secret.string()
            << " --workdir " << (root / "worker").string() << "\n"
            << "  then open        http://127.0.0.1:8010\n";
}

}  // namespace

void AddInitCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "init", "Create a master directory (grove.lua, secrets/, state/) from the quickstart");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "The directory to create")->required();
  cmd->callback([dir] { Init(*dir); });
}

}  // namespace grove
