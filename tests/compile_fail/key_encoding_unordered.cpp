// expect: cachet::key_encoding: an unordered container has no key encoding
#include <cachet/key_encoding.hpp>

#include <set>
#include <string>
#include <unordered_set>

int main() {
  std::string out;
#ifndef CACHET_PASSING_TWIN
  cachet::detail::render_key_argument(out, std::unordered_set<int>{1, 2});
#else
  cachet::detail::render_key_argument(out, std::set<int>{1, 2});
#endif
}
