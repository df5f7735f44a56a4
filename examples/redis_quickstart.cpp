// The README's Redis example, runnable: results shared through Redis as JSON, with a ttl, a key
// template and tags. Needs a server: CACHET_REDIS_URL (default redis://127.0.0.1:6379), or the
// test fixture's when run by ctest.
#include <cachet/redis.hpp>

#include <boost/hana/define_struct.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

struct user {
  // Adapted structs are stored as JSON objects: {"id":42,"name":"user-42"}.
  BOOST_HANA_DEFINE_STRUCT(user, (int, id), (std::string, name));
};

// Stands in for a database query.
user load_user(int id) {
  std::cout << "  (loading user " << id << " from the database)\n";
  return {id, "user-" + std::to_string(id)};
}

// Constructed before main() configures the backend: it connects on first use.
cachet::cached<&load_user, cachet::ttl<300>, cachet::key<"user:{}">, cachet::tags<"users">,
               cachet::backend<cachet::redis>>
    get_user;

std::string redis_url() {
  if (const char* url = std::getenv("CACHET_REDIS_URL")) return url;
  if (const char* file = std::getenv("CACHET_TEST_REDIS_URL_FILE")) {
    std::string url;
    std::ifstream(file) >> url;
    return url;
  }
  return "redis://127.0.0.1:6379";
}

int main() {
  // The prefix keeps this run's keys apart from other programs on the same server.
  const std::string prefix = "cachet-example-" + std::to_string(::getpid());
  cachet::redis::configure(redis_url(), {.key_prefix = prefix});

  std::cout << "first call:\n";
  const user first = get_user(42);
  std::cout << "  " << first.name << "\n";
  std::cout << "second call:\n";
  const user second = get_user(42);
  std::cout << "  " << second.name << "\n";

  // Any program can read the entry: a hash whose field v is plain JSON.
  cachet::redis& backend = cachet::redis::shared();
  const auto stored =
      backend.runtime().run(backend.connection().exec("HGET", prefix + ":v1:user:42", "v"));
  std::cout << "in Redis at " << prefix << ":v1:user:42:\n  " << stored.as_string() << "\n";

  std::cout << "after invalidate_tag(\"users\"):\n";
  get_user.invalidate_tag("users");
  const user third = get_user(42);
  std::cout << "  " << third.name << "\n";

  const cachet::stats s = get_user.stats();
  std::cout << "hits " << s.hits << ", misses " << s.misses << ", loads " << s.loads
            << ", backend errors " << s.backend_errors << "\n";
  return s.hits == 1 && s.loads == 2 && s.backend_errors == 0 ? 0 : 1;
}
