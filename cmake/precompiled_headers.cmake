# Precompiled headers (issue 14: the quick start's build time). nlohmann/json, spdlog/fmt and the
# standard library headers most files use cost 1.5-2 s of parsing in each of the ~150
# translation units of the grove binary; compiled once into a header that every library reuses,
# they cost it once. Only third-party headers: Grove's own change often and would rebuild all.
#
# GCC refuses a precompiled header built with another -fPIC/-fPIE setting (extra -D flags are
# fine), so there are two hosts: grove_pch for the position-dependent code (the default, PIE
# here) and grove_pch_pic for the libraries that go into libgrove-sdk.so.
#
# ccache caches these compiles only with sloppiness pch_defines,time_macros (its manual,
# "Precompiled headers"); the compiler launcher sets it (CMakeLists.txt).
set(GROVE_PCH_HEADERS
  <nlohmann/json.hpp>
  <spdlog/spdlog.h>
  <fmt/format.h>
  # Grove's one header here: it declares fmt's engine compiled in libfmt (see the header).
  ${PROJECT_SOURCE_DIR}/src/core/fmt_extern.h
  <algorithm>
  <atomic>
  <chrono>
  <cstdint>
  <filesystem>
  <functional>
  <map>
  <memory>
  <mutex>
  <optional>
  <set>
  <string>
  <string_view>
  <thread>
  <vector>)

function(grove_pch_host name pic)
  file(WRITE ${CMAKE_BINARY_DIR}/${name}.cc "// The host of a precompiled header (cmake/precompiled_headers.cmake).\n")
  add_library(${name} STATIC ${CMAKE_BINARY_DIR}/${name}.cc)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ${pic})
  # The same definitions as the users' (spdlog's and fmt's select how their headers read).
  target_link_libraries(${name} PRIVATE nlohmann_json::nlohmann_json spdlog::spdlog fmt::fmt)
  target_precompile_headers(${name} PRIVATE ${GROVE_PCH_HEADERS})
endfunction()

# grove_use_precompiled_headers(TARGET...): each existing target reuses the host that matches
# its position-independence (read when this runs: call it after every target is configured).
function(grove_use_precompiled_headers)
  if(NOT GROVE_PCH)
    return()
  endif()
  if(NOT TARGET grove_pch)
    grove_pch_host(grove_pch OFF)
    grove_pch_host(grove_pch_pic ON)
  endif()
  foreach(target ${ARGN})
    if(NOT TARGET ${target})
      continue()
    endif()
    # With the standard headers precompiled, GCC 12 no longer treats code inlined from them as
    # system code, and -O2 then reports its known -Warray-bounds and -Wstringop-* false positives on std::string
    # concatenations (GCC bugs 105329, 105651) that the same build without the PCH does not show.
    target_compile_options(${target} PRIVATE
      "$<$<CXX_COMPILER_ID:GNU>:-Wno-array-bounds;-Wno-stringop-overflow;-Wno-stringop-overread>")
    get_target_property(type ${target} TYPE)
    get_target_property(pic ${target} POSITION_INDEPENDENT_CODE)
    if(type STREQUAL "SHARED_LIBRARY" OR pic)
      target_precompile_headers(${target} REUSE_FROM grove_pch_pic)
    else()
      target_precompile_headers(${target} REUSE_FROM grove_pch)
    endif()
  endforeach()
endfunction()
