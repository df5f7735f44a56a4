// redis_1.cpp in a program built with CACHET_SEPARATE_COMPILATION: what each of its units costs
// once the client, the connection and the backend's runtime are compiled in one unit of their own
// (cachet_src.cpp, once per program).
#define CACHET_SEPARATE_COMPILATION
#include "redis_1.cpp"
