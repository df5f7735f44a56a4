// Compile-time cost of one Redis-cached function: <cachet/redis.hpp>, one cached<> on the Redis
// backend, called once blocking and once from a co_spawned coroutine (compare asio_baseline.cpp).
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <string>

// A named namespace, not an unnamed one: *_separate.cpp include this file, and g++ warns
// (-Wsubobject-linkage) when an included file's unnamed-namespace types reach a template's
// coroutine frame.
namespace bench {

std::string quote(const std::string& symbol) { return symbol + "@1.5"; }

using cached_quote = cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::ttl<30>>;

}  // namespace bench

using namespace bench;

int main() {
  cachet::redis backend(cachet::redis::config::from_env());
  cached_quote get_quote{backend};
  boost::asio::io_context io;
  std::size_t size = get_quote("ACME").size();
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { size += (co_await get_quote.async("X")).size(); },
      boost::asio::detached);
  io.run();
  return size == 0 ? 1 : 0;
}
