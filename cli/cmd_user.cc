// grove user add|remove|passwd|token|list: the master's local users and API tokens, kept in
// the users file of the master directory (web { users = ... }, default DIR/users). A running
// master picks changes up within a second; no restart needed.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "config/config.h"
#include "config/config_eval.h"
#include "core/clock.h"
#include "master/users_file.h"

namespace grove {

namespace {

namespace fs = std::filesystem;

struct UserArgs {
  std::string dir = ".";
  std::string name;
  std::string role = "developer";
};

std::string UsersPath(const std::string& dir) {
  Config config;
  EvalOptions options;
  Status st = ConfigLimitsFromEnv(&options.limits);
  if (st.ok()) st = EvaluateConfig((fs::path(dir) / "grove.lua").string(), options, &config);
  if (!st.ok()) Fail(st.IsInvalid() ? kExitUsage : kExitFailure, st.message());
  fs::path p(config.web.users);
  return (p.is_relative() ? fs::path(dir) / p : p).string();
}

UsersData Load(const std::string& path) {
  UsersData data;
  Status st = LoadUsers(path, &data);
  if (!st.ok()) Fail(kExitFailure, st.message());
  return data;
}

void Save(const std::string& path, const UsersData& data) {
  Status st = SaveUsers(path, data);
  if (!st.ok()) Fail(kExitFailure, st.message());
}

std::string ReadLineNoEcho(const std::string& prompt) {
  std::string line;
  if (!isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, line)) Fail(kExitUsage, "no password on standard input");
    return line;
  }
  std::cerr << prompt << std::flush;
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::getline(std::cin, line);
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

// From a terminal: asked twice without echo. Otherwise: the first line of standard input.
std::string AskPassword() {
  std::string pw = ReadLineNoEcho("password: ");
  if (isatty(STDIN_FILENO) && ReadLineNoEcho("again: ") != pw)
    Fail(kExitUsage, "the passwords differ");
  return pw;
}

std::string Hash(const std::string& password) {
  std::string hash;
  Status st = HashPassword(password, &hash);
  if (!st.ok()) Fail(kExitUsage, st.message());
  return hash;
}

void Add(const UserArgs& a) {
  Status st = ValidUserName(a.name);
  if (!st.ok()) Fail(kExitUsage, st.message());
  if (!ValidRole(a.role))
    Fail(kExitUsage, "invalid role '" + a.role + "': expected viewer, developer or admin");
  std::string path = UsersPath(a.dir);
  UsersData data = Load(path);
  if (data.Find(a.name)) Fail(kExitFailure, "user '" + a.name + "' exists already");
  data.users.push_back({a.name, a.role, Hash(AskPassword())});
  Save(path, data);
  std::cout << "user " << a.name << " (" << a.role << ") added to " << path << "\n";
}

void Remove(const UserArgs& a) {
  std::string path = UsersPath(a.dir);
  UsersData data = Load(path);
  if (!data.Find(a.name)) Fail(kExitFailure, "no such user: " + a.name);
  std::erase_if(data.users, [&](const UserEntry& u) { return u.name == a.name; });
  std::erase_if(data.tokens, [&](const TokenEntry& t) { return t.user == a.name; });
  Save(path, data);
  std::cout << "user " << a.name << " removed (with its API tokens)\n";
}

void Passwd(const UserArgs& a) {
  std::string path = UsersPath(a.dir);
  UsersData data = Load(path);
  for (auto& u : data.users) {
    if (u.name != a.name) continue;
    u.password_hash = Hash(AskPassword());
    Save(path, data);
    std::cout << "password of " << a.name << " changed\n";
    return;
  }
  Fail(kExitFailure, "no such user: " + a.name);
}

void Token(const UserArgs& a) {
  std::string path = UsersPath(a.dir);
  UsersData data = Load(path);
  if (!data.Find(a.name)) Fail(kExitFailure, "no such user: " + a.name);
  std::string token = NewApiToken();
  data.tokens.push_back({token.substr(0, 14), a.name, TokenHash(token), NowMs()});
  Save(path, data);
  // Shown once: only its hash is kept.
  std::cout << token << "\n";
}

void List(const UserArgs& a) {
  UsersData data = Load(UsersPath(a.dir));
  for (const auto& u : data.users) {
    int tokens = 0;
    for (const auto& t : data.tokens) tokens += t.user == u.name;
    std::cout << u.name << "\t" << u.role << "\t" << tokens << " API tokens\n";
  }
}

}  // namespace

void AddUserCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("user", "Manage the master's users and API tokens");
  cmd->require_subcommand(1);
  auto a = std::make_shared<UserArgs>();
  auto sub = [&](const char* name, const char* help, bool with_name, void (*fn)(const UserArgs&)) {
    auto* s = cmd->add_subcommand(name, help);
    if (with_name) s->add_option("NAME", a->name, "The user name")->required();
    s->add_option("--dir", a->dir, "The master directory (default: the current directory)");
    s->callback([a, fn] { fn(*a); });
    return s;
  };
  auto* add =
      sub("add", "Add a user (password from the terminal, or the first line of stdin)", true, Add);
  add->add_option("--role", a->role, "viewer, developer (default) or admin");
  sub("remove", "Remove a user and its API tokens; its web sessions end", true, Remove);
  sub("passwd", "Change a user's password; all of its web sessions end", true, Passwd);
  sub("token", "Create an API token for a user and print it (shown once)", true, Token);
  sub("list", "List the users", false, List);
}

}  // namespace grove
