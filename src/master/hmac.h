// HMAC-SHA256 and constant-time comparison, for webhook signatures and job tokens.
#pragma once

#include <string>
#include <string_view>

namespace grove {

// Lower-case hex of HMAC-SHA256(key, data).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares without revealing where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace grove
