// expect: cachet::tags: two placeholders must be separated
#include <cachet/tags.hpp>

#ifndef CACHET_PASSING_TWIN
static_assert(cachet::tags<"users", "pair:{}{}">::check<int, int>());
#else
static_assert(cachet::tags<"users", "pair:{}:{}">::check<int, int>());
#endif

int main() {}
