// expect: cachet::cached: the result type must be copy constructible
#include <cachet.hpp>

#include <memory>

#ifndef CACHET_PASSING_TWIN
std::unique_ptr<int> make(int x) { return std::make_unique<int>(x); }
#else
std::shared_ptr<const int> make(int x) { return std::make_shared<const int>(x); }
#endif

cachet::cached<&make> c;

int main() { return *c(1) == 1 ? 0 : 1; }
