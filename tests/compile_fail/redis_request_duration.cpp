// expect: cachet::redis::request: a std::chrono duration has no unit on the wire
#include <cachet/redis/request.hpp>

#include <chrono>

int main() {
  cachet::resp3::request req;
#ifndef CACHET_PASSING_TWIN
  req.push("SET", "k", "v", "EX", std::chrono::seconds(5));
#else
  req.push("SET", "k", "v", "EX", std::chrono::seconds(5).count());
#endif
  return req.size() == 1 ? 0 : 1;
}
