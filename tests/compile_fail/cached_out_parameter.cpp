// expect: cachet::cached: a parameter is a non-const lvalue reference \(an out-parameter\)
#include <cachet.hpp>

#include <vector>

#ifndef CACHET_PASSING_TWIN
bool fill(int n, std::vector<int>& out) {
  out.assign(static_cast<std::size_t>(n), 1);
  return true;
}
cachet::cached<&fill> c;
int main() {
  std::vector<int> out;
  return c(2, out) && out.size() == 2 ? 0 : 1;
}
#else
std::vector<int> fill(int n, const std::vector<int>& prefix) {
  std::vector<int> out = prefix;
  out.resize(out.size() + static_cast<std::size_t>(n), 1);
  return out;
}
cachet::cached<&fill> c;
int main() { return c(2, {}).size() == 2 ? 0 : 1; }
#endif
