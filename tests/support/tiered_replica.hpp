#ifndef CACHET_TEST_SUPPORT_TIERED_REPLICA_HPP
#define CACHET_TEST_SUPPORT_TIERED_REPLICA_HPP

// One replica of cachet::tiered<cachet::memory, cachet::redis>: its memory, its Redis backend
// (connections of its own, so Redis sees it as it sees a process), the tiers over them.
//
//     cachet_test::tiered_replica a(url, prefix);
//     ASSERT_TRUE(a.both.wait_coherent(10s));
//     my_cache get{a.both};

#include <cachet/tiered.hpp>

#include <chrono>
#include <string>

#include "redis/degraded_test_support.hpp"

namespace cachet_test {

struct tiered_replica {
  using tiers = cachet::tiered<cachet::memory, cachet::redis>;

  /// `health_check`: the Redis backend's PING interval (0: none), which notices a hung server.
  tiered_replica(const std::string& url, const std::string& prefix,
                 std::chrono::milliseconds health_check = std::chrono::milliseconds(0))
      : tiered_replica(config(url, health_check), prefix) {}

  /// With limits of the test's own (patient_config, say).
  tiered_replica(const cachet::redis::config& cfg, const std::string& prefix)
      : remote(cfg, cachet::redis_options{.key_prefix = prefix}), both(mem, remote) {}

  /// degraded_config's short limits, with that health check.
  static cachet::redis::config config(const std::string& url,
                                      std::chrono::milliseconds health_check) {
    auto cfg = degraded_config(url, std::chrono::milliseconds(2000));
    cfg.health_check_interval = health_check;
    return cfg;
  }

  cachet::memory mem;
  cachet::redis remote;
  tiers both;
};

}  // namespace cachet_test

#endif
