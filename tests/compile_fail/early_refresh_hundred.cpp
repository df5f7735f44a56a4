// expect: cachet::early_refresh: the share of the ttl after which a hit refreshes must be
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::ttl<30>, cachet::early_refresh<100>> c;
#else
cachet::cached<&twice, cachet::ttl<30>, cachet::early_refresh<99>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
