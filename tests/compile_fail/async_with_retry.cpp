// expect: cachet::cached::async: retry sleeps between attempts
#include <cachet.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

std::string name_of(int id) { return std::to_string(id); }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>,
               cachet::rate_limit<10, cachet::per<1>>, cachet::retry<3>>
    names;
#else
// rate_limit and circuit_breaker run in a coroutine; retry's backoff would block it.
cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>,
               cachet::rate_limit<10, cachet::per<1>>, cachet::circuit_breaker<5>>
    names;
#endif

boost::asio::awaitable<std::string> use() { co_return co_await names.async(1); }

int main() { return 0; }
