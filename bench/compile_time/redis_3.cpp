// Compile-time cost of three Redis-cached functions with different value types, each called once
// blocking and once from a co_spawned coroutine (compare redis_1.cpp and asio_baseline.cpp).
#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

// A named namespace, not an unnamed one: *_separate.cpp include this file, and g++ warns
// (-Wsubobject-linkage) when an included file's unnamed-namespace types reach a template's
// coroutine frame.
namespace bench {

std::string quote(const std::string& symbol) { return symbol + "@1.5"; }
long volume(int day) { return day * 100L; }
std::vector<int> history(int days) { return std::vector<int>(static_cast<std::size_t>(days), 1); }

using cached_quote = cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::ttl<30>>;
using cached_volume = cachet::cached<&volume, cachet::backend<cachet::redis>, cachet::ttl<60>>;
using cached_history = cachet::cached<&history, cachet::backend<cachet::redis>,
                                      cachet::key<"history:{}">, cachet::tags<"history">>;

}  // namespace bench

using namespace bench;

int main() {
  cachet::redis backend(cachet::redis::config::from_env());
  cached_quote get_quote{backend};
  cached_volume get_volume{backend};
  cached_history get_history{backend};
  boost::asio::io_context io;
  long total = static_cast<long>(get_quote("ACME").size()) + get_volume(2) +
               static_cast<long>(get_history(3).size());
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        total += static_cast<long>((co_await get_quote.async("X")).size());
        total += co_await get_volume.async(3);
        total += static_cast<long>((co_await get_history.async(4)).size());
      },
      boost::asio::detached);
  io.run();
  return total == 0 ? 1 : 0;
}
