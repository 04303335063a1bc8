// grove store copy FROM TO: moves a master's whole history between stores (SQLite and
// PostgreSQL, either way), checked by row counts and checksums; refuses a non-empty target.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "store/store.h"
#include "store/store_copy.h"

namespace grove {

namespace {

struct CopyArgs {
  std::string from;
  std::string to;
  std::string dir = ".";
  std::string from_password_file;
  std::string to_password_file;
};

// The first line of |path|, for a password kept out of the command line (and out of `ps`).
std::string ReadPassword(const std::string& path, const char* option) {
  if (path.empty()) return {};
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    Fail(kExitUsage, std::string(option) + ": cannot read " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

void Copy(const CopyArgs& a) {
  StoreEndpoint from{a.from, ReadPassword(a.from_password_file, "--from-password-file")};
  StoreEndpoint to{a.to, ReadPassword(a.to_password_file, "--to-password-file")};
  std::vector<TableCopy> report;
  Status st = CopyStore(from, to, a.dir, &report);
  if (!st.ok()) {
    Fail(st.IsInvalid()                            ? kExitUsage
         : st.code() == Status::Code::kUnavailable ? kExitUnreachable
                                                   : kExitFailure,
         st.message());
  }
  int64_t rows = 0;
  for (const auto& t : report) {
    std::cout << t.table << ": " << t.rows << " rows, checksum " << t.checksum.substr(0, 16)
              << " ok\n";
    rows += t.rows;
  }
  std::cout << "copied " << rows << " rows from " << RedactedStoreUrl(a.from) << " to "
            << RedactedStoreUrl(a.to) << "; every table checked (counts and checksums)\n";
}

}  // namespace

void AddStoreCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("store", "Work on a master's store (database)");
  cmd->require_subcommand(1);
  auto* copy = cmd->add_subcommand(
      "copy",
      "Copy a master's whole history from the store FROM to the new, empty store TO (sqlite:PATH "
      "or postgresql://...), checked by counts and checksums. Stop the master first.");
  auto a = std::make_shared<CopyArgs>();
  copy->add_option("FROM", a->from, "The store to read, e.g. sqlite:state/grove.db")->required();
  copy->add_option("TO", a->to, "The empty store to fill, e.g. postgresql://grove@db/grove")
      ->required();
  copy->add_option("--dir", a->dir, "The directory relative sqlite: paths are in (the master's)")
      ->capture_default_str();
  copy->add_option("--from-password-file", a->from_password_file,
                   "A file holding FROM's database password");
  copy->add_option("--to-password-file", a->to_password_file,
                   "A file holding TO's database password");
  copy->callback([a] { Copy(*a); });
}

}  // namespace grove
