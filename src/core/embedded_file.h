// A file compiled into the binary (web UI, templates); see cmake/embed_files.cmake.
#pragma once

#include <cstddef>
#include <string_view>

namespace grove {

struct EmbeddedFile {
  const char* path;  // "/index.html"
  const unsigned char* data;
  size_t size;

  std::string_view text() const { return {reinterpret_cast<const char*>(data), size}; }
};

}  // namespace grove
