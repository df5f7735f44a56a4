#ifndef CACHET_SRC_HPP
#define CACHET_SRC_HPP

/// The bodies of cachet's non-template functions, for a program built with
/// CACHET_SEPARATE_COMPILATION (see <cachet/detail/linkage.hpp>). Define that macro for every
/// unit of the program (-DCACHET_SEPARATE_COMPILATION), and include this header in exactly one
/// of its .cpp files, before any other cachet header:
///
///   // cachet.cpp
///   #include <cachet/src.hpp>
///
/// The other units then only declare what this one defines: a unit with Redis-cached functions
/// no longer compiles the client, its connection and Asio's I/O machinery again.

#if !defined(CACHET_SEPARATE_COMPILATION)
#error \
    "cachet: <cachet/src.hpp> is for programs built with CACHET_SEPARATE_COMPILATION; define it for every unit (-DCACHET_SEPARATE_COMPILATION), or do not include <cachet/src.hpp> (header-only)"
#endif
#if defined(CACHET_DETAIL_LINKAGE_HPP)
#error \
    "cachet: <cachet/src.hpp> must come before any other cachet header in its unit, or the bodies those headers skipped are never compiled; include it first, in a .cpp of its own"
#endif

#define CACHET_SOURCE
#include <cachet/detail/linkage.hpp>
#include <cachet/tiered.hpp>

#endif
