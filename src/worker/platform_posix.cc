// The platform layer (platform.h) on Linux.
#include <filesystem>

#include "core/log_frame.h"
#include "worker/local_path.h"
#include "worker/platform.h"

namespace grove {

const char* WorkerOs() {
  return "linux";
}

Status SetShellCommand(const std::string& command, const std::string& shell, ChildOptions* opts) {
  if (shell.empty() || shell == "sh") {
    opts->argv = {"/bin/sh", "-c", command};
  } else if (shell == "pwsh") {
    opts->argv = {"pwsh", "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", command};
  } else if (shell == "cmd" || shell == "powershell") {
    return Status::Invalid("shell '" + shell + "' exists only on Windows workers");
  } else {
    return Status::Invalid("unknown shell '" + shell + "' (use sh, cmd, powershell or pwsh)");
  }
  return Status::Ok();
}

Status PathInBuildDir(const std::string& builddir, const std::string& rel, std::string* out) {
  GROVE_RETURN_IF_ERROR(CheckRelativePath(rel, PathRules::kPosix, "'" + rel + "'"));
  *out = rel.empty() ? builddir : (std::filesystem::path(builddir) / rel).string();
  return Status::Ok();
}

Status ToArtifactName(const std::string& name, std::string* out) {
  *out = name;
  return Status::Ok();
}

Status MakeLinkTransport(boost::asio::io_context& io, const MasterAddress& addr,
                         std::unique_ptr<LinkTransport>* out) {
  if (addr.tls)
    return Status::Invalid(
        "https:// masters (wss://) are reached by the Windows worker only; "
        "give this worker the master's http:// address");
  *out = MakeBeastTransport(io, addr);
  return Status::Ok();
}

Status EncodeLogEvent(const Json& event, std::string* frame) {
  return EncodeLogFrame(event, frame);
}

Status LogFrameAsJsonText(const std::string& frame, std::string* text) {
  Json event;
  GROVE_RETURN_IF_ERROR(LogFrameToJsonEvent(frame, &event));
  *text = event.dump(-1, ' ', false, Json::error_handler_t::replace);
  return Status::Ok();
}

}  // namespace grove
