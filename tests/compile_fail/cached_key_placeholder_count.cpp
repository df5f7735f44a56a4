// expect: cachet::key: .*argument
#include <cachet.hpp>

int user_score(int user, int game) { return user + game; }

#ifndef CACHET_PASSING_TWIN
cachet::cached<&user_score, cachet::key<"score:{}">> c;
#else
cachet::cached<&user_score, cachet::key<"score:{}:{}">> c;
#endif

int main() { return c(1, 2) == 3 ? 0 : 1; }
