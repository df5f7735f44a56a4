// expect: cachet::cached: a function that returns boost::asio::awaitable is awaited on this backend
#include <cachet.hpp>
#include <cachet/async.hpp>

#include <boost/asio/awaitable.hpp>

boost::asio::awaitable<int> twice(int x) { co_return 2 * x; }

cachet::cached<&twice> c;

#ifndef CACHET_PASSING_TWIN
int main() { return c(1) == 2 ? 0 : 1; }
#else
boost::asio::awaitable<int> doubled() { co_return co_await c.async(1); }
int main() { return 0; }
#endif
