// redis_3.cpp in a program built with CACHET_SEPARATE_COMPILATION (see redis_1_separate.cpp).
#define CACHET_SEPARATE_COMPILATION
#include "redis_3.cpp"
