#ifndef CACHET_REDIS_IMPL_RATE_LIMITER_IPP
#define CACHET_REDIS_IMPL_RATE_LIMITER_IPP

// Bodies of <cachet/redis/rate_limiter.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/redis/rate_limiter.hpp>

namespace cachet {

CACHET_DECL redis_rate_limiter::redis_rate_limiter(redis& backend, std::string name,
                                                   std::uint64_t limit, clock::duration period,
                                                   redis_rate_limiter_settings settings)
    : backend_(&backend),
      name_(checked_name(std::move(name))),
      rule_(detail::gcra::checked(limit, checked_period(period))),
      settings_(settings),
      interval_text_(std::to_string(rule_.interval)),
      tolerance_text_(std::to_string(rule_.tolerance)),
      local_(limit, period, settings.clock) {}

CACHET_DECL rate_limit_decision redis_rate_limiter::try_acquire(std::string_view key) {
  if (checking_locally()) return fall_back(key);
  detail::redis_runtime& rt = backend_->runtime();
  rt.require_off_io_thread("cachet::redis_rate_limiter::try_acquire");
  try {
    return decode(rt.run(ask(rt, redis_key_in(rt, key), now_arguments())));
  } catch (const resp3::request_error& e) {
    if (!falls_back_on(e)) throw;
  }
  return failed_over(key);
}

CACHET_DECL boost::asio::awaitable<rate_limit_decision> redis_rate_limiter::async_try_acquire(
    std::string key) {
  if (checking_locally()) co_return fall_back(key);
  detail::redis_runtime& rt = backend_->runtime();
  try {
    co_return decode(co_await boost::asio::co_spawn(
        rt.context(), ask(rt, redis_key_in(rt, key), now_arguments()), boost::asio::use_awaitable));
  } catch (const resp3::request_error& e) {
    if (!falls_back_on(e)) throw;
  }
  co_return failed_over(key);
}

CACHET_DECL const resp3::script& redis_rate_limiter::script() {
  static const resp3::script gcra{R"lua(
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now_s, now_ns
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now_s, now_ns = tonumber(t[1]), tonumber(t[2]) * 1000
else
  now_s, now_ns = tonumber(ARGV[3]), tonumber(ARGV[4])
end
local start_s, start_ns, backlog = now_s, now_ns, 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, ns = string.match(stored, '^(%-?%d+)%.(%d+)$')
  if s then
    s, ns = tonumber(s), tonumber(ns)
    local ahead = (s - now_s) * 1e9 + (ns - now_ns)
    if ahead > 0 then start_s, start_ns, backlog = s, ns, ahead end
  end
end
if backlog > tolerance then return {0, backlog - tolerance, 0} end
local total = start_ns + interval
local carry = math.floor(total / 1e9)
local next_ns = total - carry * 1e9
if next_ns < 0 then carry, next_ns = carry - 1, next_ns + 1e9
elseif next_ns >= 1e9 then carry, next_ns = carry + 1, next_ns - 1e9 end
local wait = backlog + interval
redis.call('SET', KEYS[1], string.format('%d.%09d', start_s + carry, next_ns),
           'PX', math.floor(wait / 1e6) + 1)
local room = tolerance - wait
if room < 0 then return {1, 0, 0} end
local q = math.floor(room / interval)
if q * interval > room then q = q - 1 elseif (q + 1) * interval <= room then q = q + 1 end
return {1, 0, q + 1}
)lua"};
  return gcra;
}

CACHET_DECL std::string redis_rate_limiter::checked_name(std::string name) {
  if (name.empty()) {
    throw cachet::error(
        "cachet::redis_rate_limiter: the name is empty; give each limit a name of its own, "
        "which scopes its Redis keys");
  }
  return name;
}

CACHET_DECL clock::duration redis_rate_limiter::checked_period(clock::duration period) {
  if (period.count() > (rep{1} << 53)) {
    throw cachet::error(
        "cachet::redis_rate_limiter: the period is longer than 2^53 ns (about 104 days), "
        "beyond what the Lua script computes exactly; use a shorter period");
  }
  return period;
}

CACHET_DECL std::vector<std::string> redis_rate_limiter::now_arguments() const {
  if (settings_.clock == nullptr) return {std::string(), std::string()};
  const rep now = settings_.clock->now().time_since_epoch().count();
  constexpr rep second = 1'000'000'000;
  rep seconds = now / second;
  rep nanoseconds = now % second;
  if (nanoseconds < 0) {
    --seconds;
    nanoseconds += second;
  }
  return {std::to_string(seconds), std::to_string(nanoseconds)};
}

CACHET_DECL std::string redis_rate_limiter::redis_key_in(const detail::redis_runtime& rt,
                                                         std::string_view key) const {
  std::string out;
  out.reserve(rt.counter_base().size() + 6 + name_.size() + key.size());
  out += rt.counter_base();
  out += "rate:";
  out += name_;
  out += ':';
  out += key;
  return out;
}

CACHET_DECL boost::asio::awaitable<resp3::value> redis_rate_limiter::ask(
    detail::redis_runtime& rt, std::string redis_key, std::vector<std::string> now) const {
  detail::script_call call{{std::move(redis_key)},
                           {interval_text_, tolerance_text_, std::move(now[0]), std::move(now[1])}};
  co_return co_await rt.link().eval(script(), std::move(call),
                                    resp3::request_options{.timeout = settings_.timeout});
}

CACHET_DECL rate_limit_decision redis_rate_limiter::decode(const resp3::value& reply) {
  const std::vector<resp3::value>& parts = reply.as_array();
  if (parts.size() != 3) {
    throw resp3::request_error(resp3::error::unexpected_reply,
                               "cachet::redis_rate_limiter: the script answered with " +
                                   std::to_string(parts.size()) +
                                   " values instead of 3; is another program using its keys?");
  }
  return {parts[0].as_int() == 1, clock::duration(parts[1].as_int()),
          static_cast<std::uint64_t>(parts[2].as_int())};
}

CACHET_DECL rate_limit_decision redis_rate_limiter::failed_over(std::string_view key) {
  const auto pause = std::chrono::duration_cast<clock::duration>(settings_.recheck_after);
  local_until_.store(local_now() + pause.count(), std::memory_order_relaxed);
  return fall_back(key);
}

}  // namespace cachet

#endif
