// A second unit of the program that uses the Redis part (see main.cpp).
#include <cachet/redis.hpp>

#include <string>

std::string first_script_sha1() { return cachet::redis::script{"return 1"}.sha1(); }
