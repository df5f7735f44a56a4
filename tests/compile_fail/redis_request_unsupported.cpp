// expect: cachet::redis::request: unsupported argument type
#include <cachet/redis/request.hpp>

struct point {
  int x;
};

int main() {
  cachet::resp3::request req;
#ifndef CACHET_PASSING_TWIN
  req.push("SET", "k", point{1});
#else
  req.push("SET", "k", point{1}.x);
#endif
  return req.size() == 1 ? 0 : 1;
}
