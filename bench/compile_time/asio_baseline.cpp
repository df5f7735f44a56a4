// Compile-time baseline for the Redis cases: what a service that already uses Asio coroutines,
// Boost.JSON and Boost.Hana pays before it caches anything. One coroutine is co_spawned, so the
// awaitable machinery is instantiated, as it is in a unit that caches on Redis.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/hana.hpp>
#include <boost/json.hpp>

#include <string>

namespace {

struct quote {
  std::string symbol;
  double price;
};

boost::asio::awaitable<std::string> serve(std::string symbol) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  co_await timer.async_wait(boost::asio::use_awaitable);
  boost::json::value v = {{"symbol", symbol}, {"price", 1.5}};
  co_return boost::json::serialize(v);
}

}  // namespace

int main() {
  boost::asio::io_context io;
  boost::asio::co_spawn(io, serve("ACME"), boost::asio::detached);
  io.run();
  return boost::hana::size(boost::hana::make_tuple(1, 2)) == 2u ? 0 : 1;
}
