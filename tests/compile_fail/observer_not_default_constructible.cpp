// expect: cachet::observer: each cached object default-constructs its observer
#include <cachet.hpp>

#include <ostream>

int twice(int x) { return 2 * x; }

#ifndef CACHET_PASSING_TWIN
struct event_log {
  explicit event_log(std::ostream& out) : out_(&out) {}
  void on_hit(const cachet::event&) { *out_ << "hit\n"; }
  std::ostream* out_;
};
#else
struct event_log {
  void on_hit(const cachet::event&) { *out_ << "hit\n"; }
  std::ostream* out_ = nullptr;
};
#endif

cachet::cached<&twice, cachet::observer<event_log>> c;

int main() { return c(1) == 2 ? 0 : 1; }
