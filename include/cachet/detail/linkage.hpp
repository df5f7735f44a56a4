#ifndef CACHET_DETAIL_LINKAGE_HPP
#define CACHET_DETAIL_LINKAGE_HPP

/// CACHET_DECL marks a function of cachet that does not depend on the caller's types (the Redis
/// client and connection, the backend's runtime, the value-independent half of its stores).
/// Their bodies live in `impl/*.ipp` files beside their headers.
///
/// Header-only (the default), the headers include those files and CACHET_DECL is `inline`: every
/// unit that includes them compiles them again. A program that defines CACHET_SEPARATE_COMPILATION
/// in every unit compiles them once instead, in the one unit that includes <cachet/src.hpp>;
/// elsewhere they are declarations only, which is most of a Redis unit's compile time.
#if defined(CACHET_SEPARATE_COMPILATION)
#define CACHET_DECL
#else
#define CACHET_DECL inline
#endif

/// Whether a header includes its `impl/*.ipp` bodies: header-only, or in <cachet/src.hpp>.
#if !defined(CACHET_SEPARATE_COMPILATION) || defined(CACHET_SOURCE)
#define CACHET_INCLUDE_BODIES 1
#else
#define CACHET_INCLUDE_BODIES 0
#endif

#endif
