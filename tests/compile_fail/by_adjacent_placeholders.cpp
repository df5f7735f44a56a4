// expect: cachet::by: two placeholders of the rate key must be separated
#include <cachet.hpp>

#include <string>

std::string join(const std::string& a, const std::string& b) { return a + b; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&join, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{0}{1}">>> c;
#else
cachet::cached<&join, cachet::rate_limit<5, cachet::per<60>, cachet::by<"{0}:{1}">>> c;
#endif

int main() { return c("a", "b") == "ab" ? 0 : 1; }
