#ifndef CACHET_DETAIL_REDIS_LEASE_KEEPER_HPP
#define CACHET_DETAIL_REDIS_LEASE_KEEPER_HPP

// cachet::lease: while the process that holds a key's lease computes its value, the lease is
// extended every half lease, so that a computation that runs longer than the lease does not let
// the other processes compute too. Extended by compare-and-set (only while this holder still
// holds it), on the backend's I/O thread, best effort: an extension that fails only lets the
// lease run out, after which the others compute, as they would after a crash.

#include <cachet/detail/linkage.hpp>
#include <cachet/detail/redis/backend_link.hpp>
#include <cachet/detail/redis/backend_runtime.hpp>
#include <cachet/detail/redis/store_entry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cachet::detail {

// KEYS: the entry. ARGV: the holder, the lease's new end (ms of the store's clock). Moves the end
// of the holder's lease; a lease given up, run out and taken by another, or gone with the entry
// is left alone. Returns 1 when extended.
CACHET_DECL const std::string& extend_lease_source();

inline const resp3::script& extend_lease_script() {
  static const resp3::script s{extend_lease_source()};
  return s;
}

// Keeps one lease while it lives: made by the leader of a load that holds the lease, destroyed
// when the load ends (its write or release then ends the lease). `now_ms` is the store's clock;
// it is not called once the keeper is destroyed, so it may refer to the store.
class lease_keeper {
 public:
  CACHET_DECL lease_keeper(redis_runtime& rt, std::string entry_key, std::string holder,
                           std::int64_t lease_ms, std::function<std::int64_t()> now_ms);

  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  CACHET_DECL ~lease_keeper();

 private:
  struct state {
    CACHET_DECL state(boost::asio::io_context& io, std::function<std::int64_t()> now);
    boost::asio::steady_timer timer;
    std::mutex m;
    bool stopped = false;
    std::function<std::int64_t()> now_ms;
  };

  CACHET_DECL static boost::asio::awaitable<void> keep(std::shared_ptr<state> s, redis_runtime& rt,
                                                       std::string entry_key, std::string holder,
                                                       std::int64_t lease_ms);

  std::shared_ptr<state> state_;
};

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/lease_keeper.ipp>
#endif

#endif
