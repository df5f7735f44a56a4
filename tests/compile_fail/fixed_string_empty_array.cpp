// expect: cachet::detail::fixed_string: an empty array is not a string literal
#include <cachet/detail/fixed_string.hpp>

#ifndef CACHET_PASSING_TWIN
using empty = cachet::detail::fixed_string<0>;
#else
using empty = cachet::detail::fixed_string<1>;
#endif

int main() { return sizeof(empty) > 0 ? 0 : 1; }
