// expect: cachet::observer: the observer type has no default constructor
#include <cachet.hpp>

#include <iostream>
#include <ostream>

int twice(int x) { return 2 * x; }

struct event_log {
  explicit event_log(std::ostream& out) : out_(&out) {}
  void on_hit(const cachet::event&) { *out_ << "hit\n"; }
  std::ostream* out_;
};

#ifndef CACHET_PASSING_TWIN
cachet::cached<&twice, cachet::observer<event_log>> c;
#else
cachet::cached<&twice, cachet::observer<event_log>> c{cachet::options{}, event_log{std::clog}};
#endif

int main() { return c(1) == 2 ? 0 : 1; }
