// expect: cachet: <cachet/src.hpp> must come before any other cachet header
#define CACHET_SEPARATE_COMPILATION
#ifndef CACHET_PASSING_TWIN
#include <cachet/redis.hpp>
#endif
#include <cachet/src.hpp>
