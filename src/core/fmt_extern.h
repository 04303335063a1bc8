// fmt's formatting engine for char (fmt::detail::vformat_to<char>) is compiled into libfmt,
// which exports it, but fmt's headers do not say so (fmt issue 2377: clang and GCC disagreed on
// the declaration). spdlog's logger calls it directly, so without the declaration below every
// translation unit that logs with arguments compiles its own copy with all of fmt's integer and
// float writers: ~70 KB of code each, a tenth of what grove's units emitted (issue 14, the
// quick start's build time). Included right after <fmt/format.h> (the precompiled header,
// core/log.h).
#pragma once

#include <fmt/format.h>

#if defined(__GNUC__) && !defined(__clang__) && !defined(FMT_HEADER_ONLY) && \
    FMT_VERSION >= 90000 && FMT_VERSION < 100000
FMT_BEGIN_NAMESPACE
namespace detail {
extern template FMT_API void vformat_to<char>(
    buffer<char>&, basic_string_view<char>,
    basic_format_args<FMT_BUFFER_CONTEXT(type_identity_t<char>)>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
