// The README's example, runnable: a slow lookup cached in process, with a ttl, a key template,
// tags and the statistics a service would export. No server needed.
#include <cachet.hpp>

#include <iostream>
#include <string>

struct user {
  int id;
  std::string name;
};

// Stands in for a database query.
user load_user(int id) {
  std::cout << "  (loading user " << id << " from the database)\n";
  return {id, "user-" + std::to_string(id)};
}

cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">, cachet::tags<"users">>
    get_user;

int main() {
  std::cout << "first call:\n";
  const user first = get_user(42);
  std::cout << "  " << first.name << "\n";
  std::cout << "second call:\n";
  const user second = get_user(42);
  std::cout << "  " << second.name << "\n";

  std::cout << "after invalidate_tag(\"users\"):\n";
  get_user.invalidate_tag("users");
  const user third = get_user(42);
  std::cout << "  " << third.name << "\n";

  const cachet::stats s = get_user.stats();
  std::cout << "hits " << s.hits << ", misses " << s.misses << ", loads " << s.loads << "\n";
  return s.hits == 1 && s.loads == 2 ? 0 : 1;
}
