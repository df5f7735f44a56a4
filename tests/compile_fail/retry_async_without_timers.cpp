// expect: cachet::retry: this backend cannot wait in a coroutine
#include <cachet.hpp>
#include <cachet/async.hpp>

// A backend of the user's own, on the in-memory stores, that gives cachet no timers.
struct own_backend : cachet::memory {
  static own_backend& shared() {
    static own_backend instance;
    return instance;
  }
};

#ifdef CACHET_PASSING_TWIN
template <>
struct cachet::detail::backoff_timers<own_backend> : backoff_timers<cachet::memory> {};
#endif

int twice(int x) { return 2 * x; }

cachet::cached<&twice, cachet::backend<own_backend>, cachet::retry<2>> c;

boost::asio::awaitable<int> doubled() { co_return co_await c.async(1); }

int main() { return c(1) == 2 ? 0 : 1; }
