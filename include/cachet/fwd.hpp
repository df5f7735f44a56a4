#ifndef CACHET_FWD_HPP
#define CACHET_FWD_HPP

// Declarations of cachet's public names, for headers that only mention them.

#include <cachet/detail/fixed_string.hpp>

#include <cstddef>
#include <cstdint>

namespace cachet {

class error;
class clock;
class manual_clock;
struct options;
struct stats;
class memory;
class key_writer;
class rate_limited;
class circuit_open;
class rate_limiter;
class breaker;
class transient;
struct event;
struct health;
class prometheus_collector;

template <class T>
struct key_encoding;

template <auto F, class... Policies>
class cached;
template <class F, class... Policies>
class cached_function;

template <std::uint64_t Seconds>
struct ttl;
template <detail::fixed_string S>
struct key;
template <detail::fixed_string... S>
struct tags;
template <std::size_t Entries>
struct capacity;
template <class B>
struct backend;
template <auto Projection>
struct instance_key;
template <std::uint64_t Limit, class... Options>
struct rate_limit;
template <std::size_t Failures, class... Options>
struct circuit_breaker;
template <std::size_t Retries, class... Options>
struct retry;
template <std::uint64_t MaxStaleSeconds>
struct fail_safe;
struct serve_cached;
template <class T>
struct observer;
template <detail::fixed_string S>
struct name;
struct per_process;
class redis;
class redis_rate_limiter;

}  // namespace cachet

#endif
