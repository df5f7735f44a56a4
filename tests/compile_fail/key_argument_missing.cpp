// expect: cachet::key: every argument must appear in the template
#include <cachet/key.hpp>

#include <string>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::key<"user:{0}">::check<int, std::string>());
#else
static_assert(cachet::key<"user:{0}:{1}">::check<int, std::string>());
#endif

int main() {}
