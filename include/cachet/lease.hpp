#ifndef CACHET_LEASE_HPP
#define CACHET_LEASE_HPP

#include <cachet/detail/policy.hpp>

#include <chrono>
#include <cstdint>

namespace cachet {
namespace detail {
struct lease_kind {};

// What cached<> uses without a lease<> policy: every process that misses computes.
struct no_lease {
  static constexpr std::chrono::seconds value{0};
};
}  // namespace detail

/// Policy: on a miss in a store shared by several processes (cachet::redis, and the Redis tier
/// of cachet::tiered), one process in the fleet computes the value; the others wait for it
/// instead of computing it too. The first process to miss takes a lease on the entry for
/// `Seconds`; a process that misses while the lease is held reads the entry again, at growing
/// intervals (1 ms doubling up to 50 ms), until the value is there, then answers with it. When
/// the lease runs out first (the holder crashed, or its function takes longer than `Seconds`),
/// the next process to read takes the lease and computes. The holder gives the lease up when its
/// function throws or its result may not be written (an invalidation came during the load).
///
///     // four replicas asking for one cold report compute it once
///     cachet::cached<&build_report, cachet::ttl<300>, cachet::key<"report:{}">,
///                    cachet::backend<cachet::redis>, cachet::lease<30>> report;
///
/// A lease saves work; it is not a lock for correctness. A holder whose lease runs out is not
/// stopped, so two processes may still compute one value, and a result is written only as any
/// miss's is (an invalidation during the load still refuses it). While the holder computes, its
/// lease is extended every `Seconds/2` (detail/redis/lease_keeper.hpp), so a slow load keeps
/// it; `Seconds` is how long the others wait when the holder crashed.
///
/// Within one process, single flight already computes a key once, so on cachet::memory the
/// policy changes nothing. The lease applies to calls and async(), and to cachet::early_refresh's
/// background refreshes (one process of the fleet refreshes a due entry); async_many() batches
/// do not wait for leases. The lease is kept in the entry's Redis hash (field `l`,
/// "<until ms>:<token>"), in the entry's slot on a Redis Cluster, and its time is the store's
/// clock (the system clock), so the processes' clocks must roughly agree.
template <std::uint64_t Seconds>
struct lease : detail::policy<detail::lease_kind> {
  static constexpr void check_values() {
    static_assert(Seconds > 0,
                  "cachet::lease: a lease must last at least 1 second; leave the policy out to "
                  "let every process compute its own misses");
    static_assert(Seconds <= 86'400,
                  "cachet::lease: a lease must last at most one day (86400 s), since the other "
                  "processes wait that long for a holder that crashed; give fewer seconds");
  }
  static constexpr std::chrono::seconds value{Seconds};
};

}  // namespace cachet

#endif
