#ifndef CACHET_DETAIL_INLINE_HPP
#define CACHET_DETAIL_INLINE_HPP

// Marks the few small functions of an in-memory hit (key hash, key comparison) that the compiler
// must inline: called from inside a large lookup, g++ -O2 otherwise keeps them out of line, and
// the calls cost a hit of a small value about a quarter of its time.
#if defined(__GNUC__) || defined(__clang__)
#define CACHET_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define CACHET_ALWAYS_INLINE __forceinline
#else
#define CACHET_ALWAYS_INLINE inline
#endif

#endif
