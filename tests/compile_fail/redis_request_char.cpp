// expect: cachet::redis::request: a single character is ambiguous
#include <cachet/redis/request.hpp>

int main() {
  cachet::resp3::request req;
#ifndef CACHET_PASSING_TWIN
  req.push("SET", "k", 'x');
#else
  req.push("SET", "k", "x");
#endif
  return req.size() == 1 ? 0 : 1;
}
