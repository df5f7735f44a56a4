// expect: cachet::cached::async: the in-memory backend's coroutine forms .*async.hpp
#include <cachet.hpp>
#ifdef CACHET_PASSING_TWIN
#include <cachet/async.hpp>
#endif

#include <boost/asio/awaitable.hpp>

#include <vector>

int twice(int x) { return 2 * x; }

cachet::cached<&twice> c;

boost::asio::awaitable<std::vector<int>> doubled(std::vector<int> xs) {
  co_return co_await c.async_many(xs);
}

int main() { return c(1) + c(2) == 6 ? 0 : 1; }
