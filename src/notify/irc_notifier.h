// notify.irc: an IRC bot (Boost.Asio, plain or TLS) that announces results in its channels and
// answers commands, addressed as "NICK: command" or "!command" in a channel, or in a private
// message:
//   help · status · last BUILDER · force BUILDER [reason] (only nicks in allow_force)
// It reconnects with backoff (1 s doubling to 60 s) and rejoins its channels; what it says goes
// through a rate limit (a burst of 5 lines, then one line per 700 ms) so servers never see a
// flood. An announcement counts as sent once written to the server in every channel.
#pragma once

#include <memory>

#include "notify/factory.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeIrcNotifier(const IrcNotifierConfig& config, const Config& whole,
                                          const NotifierEnv& env);

// One IRC protocol line, parsed: ":prefix COMMAND p1 p2 :trailing".
struct IrcLine {
  std::string prefix;  // "nick!user@host" or a server name
  std::string command;
  std::vector<std::string> params;  // the trailing one last
  std::string Nick() const { return prefix.substr(0, prefix.find('!')); }
};
bool ParseIrcLine(const std::string& line, IrcLine* out);

}  // namespace grove::notify
