// expect: cachet::backend: this backend shares entries between processes
#include <cachet/redis.hpp>

int main() {
  auto fn = [](int x) { return x; };
#ifndef CACHET_PASSING_TWIN
  using cached_lambda = cachet::cached_function<decltype(fn), cachet::backend<cachet::redis>>;
#else
  using cached_lambda = cachet::cached_function<decltype(fn), cachet::key<"lambda:{}">,
                                                cachet::backend<cachet::redis>>;
#endif
  cached_lambda c(fn, cachet::redis::shared());
  return c(1) == 1 ? 0 : 1;
}
