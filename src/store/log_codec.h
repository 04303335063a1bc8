// Compression of log chunks: each chunk is one independent zstd frame, so any chunk can be
// read without the ones before it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace grove {

class LogCodec {
 public:
  LogCodec();
  ~LogCodec();
  LogCodec(const LogCodec&) = delete;
  LogCodec& operator=(const LogCodec&) = delete;

  // Replaces |*out| with |raw| compressed.
  Status Compress(std::string_view raw, std::string* out);
  // Appends the decompressed |frame| to |*out|. The frame must hold exactly |raw_size| bytes
  // (stored beside it); anything else means a corrupt chunk.
  Status DecompressAppend(std::string_view frame, int64_t raw_size, std::string* out);

 private:
  // zstd's contexts are reused across chunks: making one per call costs more than
  // compressing a small chunk.
  struct Contexts;
  std::unique_ptr<Contexts> ctx_;
};

// The number of '\n' in |data|.
int64_t CountLines(std::string_view data);

}  // namespace grove
