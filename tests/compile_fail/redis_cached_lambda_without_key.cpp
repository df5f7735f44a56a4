// expect: cachet::backend: this backend shares entries between processes
#include <cachet/redis.hpp>

#ifndef CACHET_PASSING_TWIN
using cached_lambda = cachet::cached<[](int x) { return x; }, cachet::backend<cachet::redis>>;
#else
using cached_lambda = cachet::cached<[](int x) { return x; }, cachet::key<"lambda:{}">,
                                     cachet::backend<cachet::redis>>;
#endif

int main() {
  cached_lambda c;
  return c(1) == 1 ? 0 : 1;
}
