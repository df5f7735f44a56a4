// expect: cachet::codec: this backend keeps values in process and never serialises them
#include <cachet.hpp>
#include <cachet/codec.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::codec<cachet::json_codec>> c;
#else
cachet::cached<&twice> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
