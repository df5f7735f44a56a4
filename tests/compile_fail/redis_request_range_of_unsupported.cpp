// expect: cachet::redis::request: a range argument must be a forward range
#include <cachet/redis/request.hpp>

#include <string>
#include <vector>

int main() {
  cachet::resp3::request req;
#ifndef CACHET_PASSING_TWIN
  const std::vector<bool> flags{true, false};
  req.push("RPUSH", "k", flags);
#else
  const std::vector<std::string> flags{"1", "0"};
  req.push("RPUSH", "k", flags);
#endif
  return req.size() == 1 ? 0 : 1;
}
