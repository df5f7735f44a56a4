// expect: cachet::instance_key: only a member function's cache can be keyed by its object
#include <cachet.hpp>

#include <string>

struct repo {
  std::string region;
  int find(int id) const { return id; }
};
int find_free(int id) { return id; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&find_free, cachet::instance_key<&repo::region>> c;
int main() { return c(1) == 1 ? 0 : 1; }
#else
cachet::cached<&repo::find, cachet::instance_key<&repo::region>> c;
int main() { return c(repo{"eu"}, 1) == 1 ? 0 : 1; }
#endif
