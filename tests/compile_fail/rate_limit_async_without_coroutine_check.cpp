// expect: cachet::rate_limit: this backend keeps limits but cannot check them in a coroutine
#include <cachet.hpp>
#include <cachet/async.hpp>

#include <memory>

// A backend of the user's own, on the in-memory stores, that keeps rate limits elsewhere but
// cannot check them without blocking.
struct own_backend : cachet::memory {
  static own_backend& shared() {
    static own_backend instance;
    return instance;
  }
};

template <>
struct cachet::detail::shared_rate_limits<own_backend> {
  static std::unique_ptr<shared_rate_limiter> make(own_backend&,
                                                   const shared_rate_limit_settings&) {
    return nullptr;
  }
};

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::backend<own_backend>, cachet::rate_limit<5, cachet::per<60>>> c;
#else
cachet::cached<&twice, cachet::backend<own_backend>,
               cachet::rate_limit<5, cachet::per<60>, cachet::per_process>>
    c;
#endif

boost::asio::awaitable<int> doubled() { co_return co_await c.async(1); }

int main() { return 0; }
