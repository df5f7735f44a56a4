#ifndef CACHET_DETAIL_REDIS_IMPL_LEASE_KEEPER_IPP
#define CACHET_DETAIL_REDIS_IMPL_LEASE_KEEPER_IPP

// Bodies of <cachet/detail/redis/lease_keeper.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/lease_keeper.hpp>

namespace cachet::detail {

CACHET_DECL const std::string& extend_lease_source() {
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

CACHET_DECL lease_keeper::lease_keeper(redis_runtime& rt, std::string entry_key, std::string holder,
                                       std::int64_t lease_ms, std::function<std::int64_t()> now_ms)
    : state_(std::make_shared<state>(rt.context(), std::move(now_ms))) {
  boost::asio::co_spawn(rt.context(),
                        keep(state_, rt, std::move(entry_key), std::move(holder), lease_ms),
                        boost::asio::detached);
}

CACHET_DECL lease_keeper::~lease_keeper() {
  {
    std::lock_guard lock(state_->m);
    state_->stopped = true;
    state_->now_ms = nullptr;
  }
  // The timer belongs to the I/O thread: cancelled there.
  boost::asio::post(state_->timer.get_executor(), [s = state_] { s->timer.cancel(); });
}

CACHET_DECL lease_keeper::state::state(boost::asio::io_context& io,
                                       std::function<std::int64_t()> now)
    : timer(io), now_ms(std::move(now)) {}

CACHET_DECL boost::asio::awaitable<void> lease_keeper::keep(std::shared_ptr<state> s,
                                                            redis_runtime& rt,
                                                            std::string entry_key,
                                                            std::string holder,
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

}  // namespace cachet::detail

#endif
