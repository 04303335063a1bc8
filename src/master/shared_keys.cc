#include "master/shared_keys.h"

namespace grove {

namespace {

std::string Hex(const std::string& raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool Unhex(const std::string& hex, std::string* raw) {
  if (hex.size() % 2 != 0) return false;
  raw->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = Nibble(hex[i]), lo = Nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    raw->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

}  // namespace

Status ShareKey(Store& store, const std::string& name, std::string* key) {
  std::string stored;
  GROVE_RETURN_IF_ERROR(store.SharedKey(name, Hex(*key), &stored));
  std::string raw;
  // Never the key itself in the message: only that it is unusable.
  if (!Unhex(stored, &raw) || raw.size() < 32)
    return Status::Invalid("the store's shared key '" + name +
                           "' is malformed (cluster_keys); delete that row to make a new one");
  *key = std::move(raw);
  return Status::Ok();
}

}  // namespace grove
