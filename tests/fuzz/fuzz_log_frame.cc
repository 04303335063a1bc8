// Binary log frames (core/log_frame.h) as the master reads them from a worker's WebSocket or an
// AMQP body: nothing may throw or crash, and a frame that is accepted must hold a chunk that
// decompresses to the size it claims (the master stores the payload as it is).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log_frame.h"

using namespace grove;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Json ev;
  Status st = DecodeLogFrame(bytes, &ev);
  if (!st.ok()) {
    if (!ev.is_null() && !ev.is_object()) abort();  // the id to reject by comes from an object
    return 0;
  }
  const auto& z = ev["zdata"].get_binary();
  const int64_t raw_size = ev["raw_size"].get<int64_t>();
  std::string plain;
  if (!DecompressLogData(std::string_view(reinterpret_cast<const char*>(z.data()), z.size()),
                         raw_size, &plain)
           .ok() ||
      static_cast<int64_t>(plain.size()) != raw_size)
    abort();
  Json json;
  if (!LogFrameToJsonEvent(bytes, &json).ok()) abort();
  // What a worker would send for that event again decodes to the same chunk size.
  std::string again;
  if (!EncodeLogFrame(json, &again).ok()) abort();
  Json ev2;
  if (!DecodeLogFrame(again, &ev2).ok()) abort();
  return 0;
}
