# Unity builds (issue 14: the quick start's cold build). About 70 % of a translation unit's time
# is spent optimising and emitting code, and half of the code the grove binary's units emitted
# was the same inline and template code (nlohmann/json's parser and serializer, Beast, the
# standard containers) emitted again in every unit that uses it. Compiled a batch of sources at
# a time, each library emits it once per batch. CPU of a cold build of grove (g++ 12, PCH on,
# core/fmt_extern.h): 319 s in batches of 16, 283 s in one batch per library (the default: the
# master's library is then one unit of ~50 s, compiled beside the worker's); 601 s before, one
# unit per file and without fmt_extern.h.
#
# Off by default: a change to one file recompiles its whole batch. scripts/quickstart.sh and
# scripts/test.sh turn it on. A name at namespace scope (anonymous namespaces and `static`
# included) must be unique within its library: two .cc files of one library share a batch.
option(GROVE_UNITY "Compile grove's libraries a batch of sources at a time (unity build)" OFF)
set(GROVE_UNITY_BATCH_SIZE 0 CACHE STRING "Sources per unity batch (GROVE_UNITY; 0: one batch per library)")

# grove_use_unity_build(TARGET...): each existing target is compiled in unity batches when
# GROVE_UNITY is on.
function(grove_use_unity_build)
  if(NOT GROVE_UNITY)
    return()
  endif()
  foreach(target ${ARGN})
    if(TARGET ${target})
      set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                                                 UNITY_BUILD_BATCH_SIZE ${GROVE_UNITY_BATCH_SIZE})
      # A type of a .cc's anonymous namespace used in a class of that .cc is right; GCC warns
      # about it when the .cc is included into a batch as if it were a header.
      target_compile_options(${target} PRIVATE "$<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>")
    endif()
  endforeach()
endfunction()
