// expect: cachet::cached: the function returns void
#include <cachet.hpp>

#ifndef CACHET_PASSING_TWIN
void notify(int) {}
#else
int notify(int x) { return x; }
#endif

cachet::cached<&notify> c;

int main() {
  c(1);
  return 0;
}
