// expect: cachet::early_refresh: a result without a ttl never expires
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::early_refresh<80>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::early_refresh<80>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
