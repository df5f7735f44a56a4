// expect: cachet::key_encoding: an unordered container has no key encoding
#include <cachet.hpp>

#include <map>
#include <unordered_map>

#ifndef CACHET_PASSING_TWIN
using counts = std::unordered_map<int, int>;
#else
using counts = std::map<int, int>;
#endif

int total(counts c) {
  int sum = 0;
  for (const auto& [key, value] : c) sum += value;
  return sum;
}

cachet::cached<&total> c;

int main() { return c(counts{{1, 2}}) == 2 ? 0 : 1; }
