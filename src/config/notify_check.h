// The shapes of what notifiers are configured with: mail addresses, IRC nicks and channels,
// http(s) URLs. Used by grove.lua's notify.* functions (grove checkconfig) and by the
// notifiers themselves for values that come from builds (change authors).
#pragma once

#include <string>
#include <string_view>

namespace grove {

// "dev@example.org"; with |allow_display_name| also "Dev Team <dev@example.org>". No spaces,
// control characters, quotes or angle brackets in the address itself.
bool IsMailAddress(std::string_view text, bool allow_display_name = false);
// The address part of "Name <addr>" (or |text| itself when it has no angle brackets); "" when
// there is no valid address in it.
std::string MailAddressOf(std::string_view text);

bool IsIrcNick(std::string_view nick);
bool IsIrcChannel(std::string_view channel);

// An absolute http:// or https:// URL with a host; |why| says what is wrong otherwise.
bool IsHttpUrl(const std::string& url, std::string* why);

}  // namespace grove
