// What a Compiler Explorer unit looks like with the Redis single header: the core, the Redis
// backend and async() on both backends from one include, Boost.JSON compiled in (its src.hpp,
// since Compiler Explorer links no Boost library).
#include <cachet_redis.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/src.hpp>

#include <string>
#include <vector>

namespace {

std::string quote(const std::string& symbol) { return symbol + "@1.5"; }
int square(int x) { return x * x; }

using redis_quote = cachet::cached<&quote, cachet::backend<cachet::redis>, cachet::ttl<30>>;
using memory_square = cachet::cached<&square, cachet::ttl<30>>;

boost::asio::awaitable<std::size_t> serve(redis_quote& q, memory_square& s) {
  const std::vector<int> xs{1, 2, 3};
  const std::vector<int> squares = co_await s.async_many(xs);
  const std::string acme = co_await q.async("ACME");
  co_return acme.size() + squares.size();
}

}  // namespace

int main() {
  cachet::redis backend(cachet::redis::config::from_env());
  redis_quote q{backend};
  memory_square s;
  auto pending = serve(q, s);
  return q("ACME").empty() ? 1 : 0;
}
