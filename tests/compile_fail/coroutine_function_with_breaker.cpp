// expect: cachet::cached: circuit_breaker and retry wrap plain function calls
#include <cachet.hpp>
#include <cachet/redis.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

boost::asio::awaitable<std::string> name_of(int id) { co_return std::to_string(id); }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>,
               cachet::circuit_breaker<5, cachet::cooldown<30>>>
    names;
#else
cachet::cached<&name_of, cachet::key<"name:{}">, cachet::backend<cachet::redis>> names;
#endif

int main() { return 0; }
