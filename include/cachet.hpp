#ifndef CACHET_HPP
#define CACHET_HPP

// cachet: turn a function into a cached one by composing policies at compile time.
//
//     #include <cachet.hpp>
//     cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">> get_user;
//
// This header brings the core and the in-memory backend; it does not include Boost.Asio. The
// Redis backend is in <cachet/redis.hpp>, the Prometheus collector in <cachet/prometheus.hpp>.
// Nothing in namespace cachet::detail (headers under cachet/detail/) is API: it may change in any
// release.

#include <cachet/backend.hpp>
#include <cachet/cached.hpp>
#include <cachet/capacity.hpp>
#include <cachet/circuit_breaker.hpp>
#include <cachet/circuit_open.hpp>
#include <cachet/clock.hpp>
#include <cachet/early_refresh.hpp>
#include <cachet/error.hpp>
#include <cachet/event.hpp>
#include <cachet/fail_safe.hpp>
#include <cachet/health.hpp>
#include <cachet/instance_key.hpp>
#include <cachet/jitter.hpp>
#include <cachet/key.hpp>
#include <cachet/key_encoding.hpp>
#include <cachet/lease.hpp>
#include <cachet/memory.hpp>
#include <cachet/name.hpp>
#include <cachet/observer.hpp>
#include <cachet/options.hpp>
#include <cachet/rate_limit.hpp>
#include <cachet/rate_limited.hpp>
#include <cachet/rate_limiter.hpp>
#include <cachet/retry.hpp>
#include <cachet/stats.hpp>
#include <cachet/tags.hpp>
#include <cachet/ttl.hpp>

#endif
