#ifndef CACHET_DETAIL_REDIS_LEASE_KEEPER_HPP
#define CACHET_DETAIL_REDIS_LEASE_KEEPER_HPP

// cachet::lease: while the process that holds a key's lease computes its value, the lease is
// extended every half lease, so that a computation that runs longer than the lease does not let
// the other processes compute too. Extended by compare-and-set (only while this holder still
// holds it), on the backend's I/O thread, best effort: an extension that fails only lets the
// lease run out, after which the others compute, as they would after a crash.

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
inline const std::string& extend_lease_source() {
  static const std::string source = R"lua(
local held = redis.pcall('HGET', KEYS[1], 'l')
local holder = ARGV[1]
if type(held) == 'string' and string.sub(held, -(#holder + 1)) == ':' .. holder then
  redis.call('HSET', KEYS[1], 'l', ARGV[2] .. ':' .. holder)
  return 1
end
return 0
)lua";
  return source;
}

inline const resp3::script& extend_lease_script() {
  static const resp3::script s{extend_lease_source()};
  return s;
}

// Keeps one lease while it lives: made by the leader of a load that holds the lease, destroyed
// when the load ends (its write or release then ends the lease). `now_ms` is the store's clock;
// it is not called once the keeper is destroyed, so it may refer to the store.
class lease_keeper {
 public:
  lease_keeper(redis_runtime& rt, std::string entry_key, std::string holder, std::int64_t lease_ms,
               std::function<std::int64_t()> now_ms)
      : state_(std::make_shared<state>(rt.context(), std::move(now_ms))) {
    boost::asio::co_spawn(rt.context(),
                          keep(state_, rt, std::move(entry_key), std::move(holder), lease_ms),
                          boost::asio::detached);
  }

  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  ~lease_keeper() {
    {
      std::lock_guard lock(state_->m);
      state_->stopped = true;
      state_->now_ms = nullptr;
    }
    // The timer belongs to the I/O thread: cancelled there.
    boost::asio::post(state_->timer.get_executor(), [s = state_] { s->timer.cancel(); });
  }

 private:
  struct state {
    state(boost::asio::io_context& io, std::function<std::int64_t()> now)
        : timer(io), now_ms(std::move(now)) {}
    boost::asio::steady_timer timer;
    std::mutex m;
    bool stopped = false;
    std::function<std::int64_t()> now_ms;
  };

  static boost::asio::awaitable<void> keep(std::shared_ptr<state> s, redis_runtime& rt,
                                           std::string entry_key, std::string holder,
                                           std::int64_t lease_ms) {
    const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(lease_ms / 2, 1));
    for (;;) {
      s->timer.expires_after(interval);
      boost::system::error_code ec;
      co_await s->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      std::int64_t until = 0;
      {
        std::lock_guard lock(s->m);
        if (s->stopped) co_return;
        until = s->now_ms() + lease_ms;
      }
      try {
        std::vector<script_call> calls{script_call{{entry_key}, {holder, std::to_string(until)}}};
        const std::vector<resp3::value> replies =
            co_await rt.link().eval_many(extend_lease_script(), calls);
        // Another holds it, or it is gone: nothing left to keep.
        if (replies.empty() || replies[0].type != resp3::type::number || replies[0].integer != 1) {
          co_return;
        }
      } catch (const std::exception&) {
        // Best effort (see above): the next tick tries again.
      }
    }
  }

  std::shared_ptr<state> state_;
};

}  // namespace cachet::detail

#endif
