// The replay of failed invalidations under concurrent calls: one replay is sent, and every call
// that needs Redis meanwhile waits for it. Against a private redis-server whose ACL refuses the
// first invalidation and which holds the replay back (CLIENT PAUSE ... WRITE).

#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {
std::atomic<int> version{1};
std::atomic<int> calls{0};
int versioned(int x) {
  calls.fetch_add(1);
  return x * 100 + version.load();
}
}  // namespace app

namespace {

using namespace std::chrono_literals;
using cachet_test::make_degradable_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;

using numbers = cachet::cached<&app::versioned, cachet::ttl<300>, cachet::key<"n:{}">,
                               cachet::tags<"numbers">, cachet::backend<cachet::redis>>;

// SET commands the server has run, those of scripts included.
long long set_calls(private_redis_server& server) {
  const std::string info = raw_command(server.url(), "INFO", "commandstats").as_string();
  const std::string field = "cmdstat_set:calls=";
  const auto at = info.find(field);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + field.size()));
}

TEST(InvalidationReplayConcurrency, CallsArrivingDuringTheReplayWaitForItAndItIsSentOnce) {
  private_redis_server server;
  // The deadline outlasts the pause below: the replay is held, not failed.
  auto backend = make_degradable_backend(server.url(), 5000ms, {.consecutive_failures = 0});
  numbers f{*backend};
  constexpr int callers = 8;
  for (int i = 1; i <= callers; ++i) EXPECT_EQ(f(i), i * 100 + 1);

  raw_command(server.url(), "ACL", "SETUSER", "default", "-set");
  app::version = 2;
  EXPECT_THROW(backend->invalidate_tag("numbers"), cachet::redis::server_error);
  ASSERT_EQ(backend->pending_invalidations(), 1u);
  raw_command(server.url(), "ACL", "SETUSER", "default", "+set");

  // Writes wait 300 ms on the server: the replay is under way while the callers come.
  const long long sets_before = set_calls(server);
  raw_command(server.url(), "CLIENT", "PAUSE", 300, "WRITE");
  app::calls = 0;
  std::vector<int> results(callers + 1, 0);
  std::vector<std::thread> threads;
  for (int i = 1; i <= callers; ++i) threads.emplace_back([&, i] { results[i] = f(i); });
  for (auto& t : threads) t.join();

  for (int i = 1; i <= callers; ++i) EXPECT_EQ(results[i], i * 100 + 2) << i;
  EXPECT_EQ(app::calls.load(), callers);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  // One replay, however many callers needed it: the tag moved on once (one SET of a token).
  EXPECT_EQ(set_calls(server) - sets_before, 1);
  EXPECT_EQ(f.stats().backend_errors, 0u);  // nobody gave up on Redis
  for (int i = 1; i <= callers; ++i) EXPECT_EQ(f(i), i * 100 + 2);
  EXPECT_EQ(f.stats().hits, static_cast<std::uint64_t>(callers));
}

}  // namespace
