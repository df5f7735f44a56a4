// expect: cachet::observer: the type declares none of on_hit, on_miss
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
struct event_log {
  void on_hits(const cachet::event&) {}  // misspelt: the name must be exact
};
#else
struct event_log {
  void on_hit(const cachet::event&) {}
};
#endif

cachet::cached<&twice, cachet::observer<event_log>> c;

int main() { return c(1) == 2 ? 0 : 1; }
