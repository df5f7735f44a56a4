// expect: cachet::cached::async: the in-memory backend's coroutine forms .*async.hpp
#include <cachet.hpp>
#ifdef CACHET_PASSING_TWIN
#include <cachet/async.hpp>
#endif

#include <boost/asio/awaitable.hpp>

int twice(int x) { return 2 * x; }

cachet::cached<&twice> c;

boost::asio::awaitable<int> doubled() { co_return co_await c.async(1); }

int main() { return c(1) == 2 ? 0 : 1; }
