// expect: cachet::redis::request: bool is not a Redis argument
#include <cachet/redis/request.hpp>

int main() {
  cachet::resp3::request req;
#ifndef CACHET_PASSING_TWIN
  req.push("SET", "k", true);
#else
  req.push("SET", "k", 1);
#endif
  return req.size() == 1 ? 0 : 1;
}
