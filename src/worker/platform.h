// The worker's platform layer: the few things that differ between the operating systems a worker
// runs on, beside process control (ChildProcess, child_process.h), HTTP calls (HttpCall,
// http_call.h) and file globbing (glob_files.h). Everything above these interfaces (the master
// link, the job runner, the step executors) is shared.
//
// Implementations: platform_posix.cc (Linux) and windows/platform_win.cc.
#pragma once

#include <string>

#include "core/protocol.h"
#include "core/status.h"
#include "worker/child_process.h"
#include "worker/link_transport.h"

namespace grove {

// The operating system as the hello's "os" field names it: "linux" or "windows". Builders may
// require it with the tag "os:NAME" (docs/config.md).
const char* WorkerOs();

// Sets |opts| up to run |command| through |shell| (a shell step's `shell` option):
//   ""            the platform's default: /bin/sh -c on Linux, cmd.exe /d /s /c on Windows;
//   "sh"          sh -c (on Windows the sh.exe found in PATH, e.g. Git for Windows');
//   "cmd"         cmd.exe (Windows only);
//   "powershell"  Windows PowerShell (Windows only); "pwsh": PowerShell 7 (pwsh in PATH).
// An unknown shell, or one this platform does not have, is an error naming it.
Status SetShellCommand(const std::string& command, const std::string& shell, ChildOptions* opts);

// |rel| (a step's workdir, a download's destination) joined to |builddir|, after checking that
// it stays inside: not absolute, no ".." part, and on Windows no drive letter and no name that
// Windows forbids (CON, AUX, NUL, COM1, ..., ':' and the like). "" is |builddir| itself.
Status PathInBuildDir(const std::string& builddir, const std::string& rel, std::string* out);

// An artifact name as a step gives it (upload's `to`, download's path) → the name the master
// expects: '/'-separated, relative. On Windows '\' becomes '/' and a drive ("C:") is refused;
// the master refuses ".." and absolute names itself.
Status ToArtifactName(const std::string& name, std::string* out);

// The WebSocket to the master at |addr| (link_transport.h): Beast for ws://; wss:// through
// WinHTTP on Windows. The Linux worker has no wss:// yet: an error says so.
Status MakeLinkTransport(boost::asio::io_context& io, const MasterAddress& addr,
                         std::unique_ptr<LinkTransport>* out);

// A "log" event as a binary log frame (core/log_frame.h), for masters that take them. Linux
// compresses with libzstd; the Windows build has no zstd (no mingw-w64 package): Unavailable,
// and its logs go as JSON events, which every master takes.
Status EncodeLogEvent(const Json& event, std::string* frame);
// A frame made by EncodeLogEvent as the JSON text of its event, for a master whose welcome does
// not take frames (an older one, met after a reconnect).
Status LogFrameAsJsonText(const std::string& frame, std::string* text);

}  // namespace grove
