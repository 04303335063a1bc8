// The platform layer (platform.h) on Windows.
#include <cctype>
#include <filesystem>

#include "worker/local_path.h"
#include "worker/platform.h"
#include "worker/windows/command_line.h"
#include "worker/windows/win_util.h"

namespace grove {

namespace {

std::string SystemCmd() {
  wchar_t buf[MAX_PATH];
  DWORD n = ::GetEnvironmentVariableW(L"ComSpec", buf, MAX_PATH);
  if (n > 0 && n < MAX_PATH) return windows::Narrow(std::wstring_view(buf, n));
  n = ::GetSystemDirectoryW(buf, MAX_PATH);
  return windows::Narrow(std::wstring_view(buf, n)) + "\\cmd.exe";
}

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// PowerShell's -EncodedCommand takes the script as base64 of UTF-16LE: no quoting can go wrong.
std::string EncodedCommand(const std::string& command) {
  std::wstring wide = windows::Widen(command);
  std::string bytes;
  for (wchar_t c : wide) {
    bytes += static_cast<char>(c & 0xFF);
    bytes += static_cast<char>((c >> 8) & 0xFF);
  }
  return Base64(bytes);
}

}  // namespace

const char* WorkerOs() {
  return "windows";
}

Status SetShellCommand(const std::string& command, const std::string& shell, ChildOptions* opts) {
  if (shell.empty() || shell == "cmd") {
    // cmd.exe /c runs the first line only: say so rather than drop the rest silently.
    size_t last = command.find_last_not_of(" \t\r\n");
    if (command.find('\n') < last)
      return Status::Invalid(
          "cmd.exe runs a command of one line: join the lines with & (or &&), or run a .cmd "
          "file");
    // /d: no AutoRun commands from the registry; /s /c "...": cmd.exe drops the first and the
    // last quote and runs what is between exactly as written, so nothing needs escaping.
    std::string cmd = SystemCmd();
    opts->argv = {cmd};
    std::string line = last == std::string::npos ? command : command.substr(0, last + 1);
    opts->command_line = "\"" + cmd + "\" /d /s /c \"" + line + "\"";
  } else if (shell == "powershell" || shell == "pwsh") {
    opts->argv = {shell == "pwsh" ? "pwsh.exe" : "powershell.exe",
                  "-NoLogo",
                  "-NoProfile",
                  "-NonInteractive",
                  "-ExecutionPolicy",
                  "Bypass",
                  "-EncodedCommand",
                  EncodedCommand(command)};
    opts->command_line.clear();
  } else if (shell == "sh") {
    opts->argv = {"sh", "-c", command};
    opts->command_line.clear();
  } else {
    return Status::Invalid("unknown shell '" + shell + "' (use cmd, powershell, pwsh or sh)");
  }
  return Status::Ok();
}

Status PathInBuildDir(const std::string& builddir, const std::string& rel, std::string* out) {
  GROVE_RETURN_IF_ERROR(CheckRelativePath(rel, PathRules::kWindows, "'" + rel + "'"));
  std::filesystem::path p(windows::Widen(builddir));
  if (!rel.empty()) p /= std::filesystem::path(windows::Widen(rel));
  *out = windows::Narrow(p.make_preferred().native());
  return Status::Ok();
}

Status ToArtifactName(const std::string& name, std::string* out) {
  if (name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) && name[1] == ':')
    return Status::Invalid("artifact name '" + name +
                           "' has a drive letter: artifact names are relative");
  *out = name;
  for (char& c : *out)
    if (c == '\\') c = '/';
  return Status::Ok();
}

Status EncodeLogEvent(const Json&, std::string*) {
  return Status::Unavailable("this worker sends its logs as JSON events (no zstd on Windows)");
}

Status LogFrameAsJsonText(const std::string&, std::string*) {
  return Status::Unavailable("this worker makes no log frames");
}

}  // namespace grove
