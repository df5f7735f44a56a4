// expect: cachet::early_refresh: a member function's object is not kept after a call
#include <cachet.hpp>

struct repo {
  int find(int id) const { return id; }
};
int find_free(int id) { return id; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&repo::find, cachet::ttl<30>, cachet::early_refresh<80>> c;
int main() { return c(repo{}, 1) == 1 ? 0 : 1; }
#else
cachet::cached<&find_free, cachet::ttl<30>, cachet::early_refresh<80>> c;
int main() { return c(1) == 1 ? 0 : 1; }
#endif
