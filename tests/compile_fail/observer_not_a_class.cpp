// expect: cachet::observer: the observer must be a class type
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

struct hits {
  void on_hit(const cachet::event&) {}
};

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::observer<int>> c;
#else
cachet::cached<&twice, cachet::observer<hits>> c;
#endif

int main() { return c(1) == 2 ? 0 : 1; }
