// The smallest real use of cachet, compiled by every consumer test: if this builds and returns 0,
// the way it was built (find_package, add_subdirectory, plain -I) works.
#include <cachet.hpp>

int twice(int x) { return 2 * x; }

int main() {
  cachet::cached<&twice, cachet::ttl<60>> c;
  return c(21) == 42 ? 0 : 1;
}
