// Built with -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast (see tests/CMakeLists.txt):
// cachet's templates warn only once instantiated, so this file instantiates the in-memory
// backend with every policy, the way a user's program built with those flags would.
#include <cachet.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

int calls = 0;

std::string describe(int id, const std::string& name, std::chrono::seconds age,
                     std::vector<double> scores) {
  ++calls;
  return std::to_string(id) + name + std::to_string(age.count()) + std::to_string(scores.size());
}

struct repository {
  long find(std::uint16_t id) const { return id * 2L; }
};

using described =
    cachet::cached<&describe, cachet::ttl<30>, cachet::capacity<64>, cachet::key<"d:{}:{}:{}:{}">,
                   cachet::tags<"user:{0}", "all">, cachet::fail_safe<60>, cachet::retry<2>,
                   cachet::circuit_breaker<3, cachet::cooldown<5>>>;

TEST(strict_warnings, every_policy_on_the_memory_backend_compiles_and_caches) {
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  described describe_cached{backend};
  const std::vector<double> scores{0.5, 1.5};
  EXPECT_EQ(describe_cached(7, "ann", 120s, scores), "7ann1202");
  EXPECT_EQ(describe_cached(7, "ann", 2min, scores), "7ann1202");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(describe_cached.peek(7, "ann", 120s, scores), std::optional<std::string>("7ann1202"));
  describe_cached.invalidate_tag(cachet::tag<"user:{}">(7));
  EXPECT_EQ(describe_cached.peek(7, "ann", 120s, scores), std::nullopt);
  EXPECT_EQ(describe_cached.stats().hits, 1u);
}

TEST(strict_warnings, a_limited_member_function_and_a_lambda_compile_and_cache) {
  cachet::manual_clock clock;
  cachet::memory backend{clock};
  cachet::cached<&repository::find, cachet::rate_limit<2, cachet::per<1>, cachet::by<"{}">>> find{
      backend};
  const repository repo;
  EXPECT_EQ(find(repo, 21), 42);
  EXPECT_EQ(find(repo, 21), 42);
  EXPECT_THROW(find(repo, 21), cachet::rate_limited);

  auto square = cachet::make_cached<cachet::ttl<10>>([](std::int64_t x) { return x * x; });
  EXPECT_EQ(square(-3), 9);
  EXPECT_EQ(square.key(-3), "-3");
}

}  // namespace
