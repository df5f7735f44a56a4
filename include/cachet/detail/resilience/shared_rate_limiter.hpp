#ifndef CACHET_DETAIL_RESILIENCE_SHARED_RATE_LIMITER_HPP
#define CACHET_DETAIL_RESILIENCE_SHARED_RATE_LIMITER_HPP

#include <cachet/clock.hpp>
#include <cachet/rate_limit_decision.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace cachet {

namespace detail {

// A limit kept outside the process, which every process reaching it shares.
class shared_rate_limiter {
 public:
  virtual ~shared_rate_limiter() = default;
  virtual rate_limit_decision try_acquire(std::string_view key) = 0;
};

struct shared_rate_limit_settings {
  std::string_view scope;  // names the limited function; keys of two scopes never meet
  std::uint64_t limit;
  clock::duration period;
  const cachet::clock* time;  // null: the shared store's own clock
};

// Customisation point of cachet::rate_limit: a backend whose stores are shared between processes
// (cachet::redis) specialises it with
//   static std::unique_ptr<shared_rate_limiter> make(Backend&, const shared_rate_limit_settings&);
// so that rate_limit keeps its limits there. This header knows no backend: the specialisation
// lives with the backend (<cachet/redis/rate_limiter.hpp> for Redis).
template <class Backend>
struct shared_rate_limits {};

template <class Backend>
concept shares_rate_limits = requires(Backend& b, const shared_rate_limit_settings& s) {
  { shared_rate_limits<Backend>::make(b, s) } -> std::same_as<std::unique_ptr<shared_rate_limiter>>;
};

// A backend with coroutines also gives, for cached<>::async(),
//   static Awaitable<rate_limit_decision> async_try_acquire(shared_rate_limiter&, std::string key);
// which the limiter that make() returned answers without blocking.
template <class Backend>
concept awaits_rate_limits = requires(shared_rate_limiter& limiter, std::string key) {
  shared_rate_limits<Backend>::async_try_acquire(limiter, std::move(key));
};

}  // namespace detail

}  // namespace cachet

#endif
