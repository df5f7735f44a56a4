// expect: cachet::cached::async_many: rate_limit, circuit_breaker and retry do not apply
#include <cachet.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

std::string name_of(int id) { return std::to_string(id); }

cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>,
               cachet::rate_limit<10, cachet::per<1>>>
    names;

#ifndef CACHET_PASSING_TWIN
boost::asio::awaitable<std::vector<std::string>> use() {
  const std::vector ids{1, 2};
  co_return co_await names.async_many(ids);
}
#else
// One async() per argument applies the limit to each.
boost::asio::awaitable<std::vector<std::string>> use() {
  std::vector<std::string> out;
  for (int id : {1, 2}) out.push_back(co_await names.async(id));
  co_return out;
}
#endif

int main() { return 0; }
