// Invalidations that fail are not lost: the Redis backend keeps them, serves nothing from Redis
// while they are pending, and replays them before it reads again. Against real redis-server
// processes that are killed and restarted with their data (an append-only file, fsynced on
// every write), and whose ACL refuses the replay, with a manual clock for the breaker.

#include <cachet/fail_safe.hpp>
#include <cachet/redis.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"

namespace app {

// The data behind the cache: a result names the version it was computed from, so a stale one
// is told from a fresh one.
struct source {
  struct outage : std::runtime_error {
    outage() : std::runtime_error("source down") {}
  };
  int version = 1;
  int calls = 0;
  bool down = false;
  int get(int x) {
    ++calls;
    if (down) throw outage();
    return x * 100 + version;
  }
};

source data;  // reset by each test

int number(int x) { return data.get(x); }
int other_number(int x) { return data.get(x); }

}  // namespace app

namespace {

using namespace std::chrono_literals;
using cachet::circuit_state;
using cachet_test::make_degradable_backend;
using cachet_test::private_redis_server;
using cachet_test::raw_command;

constexpr auto deadline = 400ms;  // config::request_timeout of the backends below
constexpr auto cooldown = 10s;    // on a manual clock: passes only when the test says so

using app::data;
using outage = app::source::outage;

template <class... Policies>
using numbers = cachet::cached<&app::number, cachet::key<"n:{}">, cachet::tags<"numbers">,
                               cachet::ttl<300>, cachet::backend<cachet::redis>, Policies...>;
using others = cachet::cached<&app::other_number, cachet::key<"other:{}">, cachet::ttl<300>,
                              cachet::backend<cachet::redis>>;

// A server that keeps its data across kill() and restart(), like a production one: the
// entries written before an outage are there again after it.
private_redis_server durable_server() {
  return private_redis_server({"--appendonly", "yes", "--appendfsync", "always"});
}

class invalidation_replay : public ::testing::Test {
 protected:
  void SetUp() override { data = {}; }

  cachet::options opts() { return {.clock = &clock}; }

  std::string redis_key(cachet::redis& backend, const std::string& key) const {
    return backend.key_options().key_prefix + ":v1:" + key;
  }

  std::string counter_key(cachet::redis& backend, const std::string& name) const {
    return backend.key_options().key_prefix + ":v1#" + name;
  }

  // What Redis holds, read on a connection of the test's own: an entry's value.
  std::optional<std::string> stored(cachet::redis& backend, const std::string& key) {
    const auto reply = raw_command(server.url(), "HGET", redis_key(backend, key), "v");
    if (reply.is_null()) return std::nullopt;
    return reply.as_string();
  }

  // A counter's token.
  std::optional<std::string> token(cachet::redis& backend, const std::string& name) {
    const auto reply = raw_command(server.url(), "GET", counter_key(backend, name));
    if (reply.is_null()) return std::nullopt;
    return reply.as_string();
  }

  bool holds_value(cachet::redis& backend, const std::string& key, int value) {
    return stored(backend, key) == std::to_string(value);
  }

  // Back with its data, once it has loaded it (until then it answers -LOADING).
  void restart_server() {
    server.restart();
    const bool loaded = cachet_test::wait_until([&] {
      try {
        raw_command(server.url(), "GET", "loaded?");
        return true;
      } catch (const cachet::redis::server_error&) {
        return false;
      }
    });
    if (!loaded) throw std::runtime_error("the restarted redis-server did not load its data");
  }

  // The server refuses (NOPERM) what a replay sends, but still answers reads.
  void refuse_invalidations() {
    raw_command(server.url(), "ACL", "SETUSER", "default", "-del", "-set");
  }
  void allow_invalidations() {
    raw_command(server.url(), "ACL", "SETUSER", "default", "+del", "+set");
  }

  private_redis_server server = durable_server();
  cachet::manual_clock clock;  // the entries' freshness and the breakers' cooldown
};

TEST_F(invalidation_replay,
       a_tag_invalidation_lost_in_an_outage_is_replayed_before_the_breaker_closes) {
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  numbers<> f{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  const std::optional<std::string> before = token(*backend, "tag:numbers");

  server.kill();
  data.version = 2;
  EXPECT_THROW(backend->invalidate_tag("numbers"), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);
  EXPECT_EQ(f(1), 102);  // open: Redis is not asked

  restart_server();
  ASSERT_TRUE(holds_value(*backend, "n:1", 101));  // the old entry is back with the server
  EXPECT_EQ(token(*backend, "tag:numbers"), before);
  EXPECT_EQ(backend->pending_invalidations(), 1u);

  clock.advance(cooldown);
  const int calls = data.calls;
  EXPECT_EQ(f(1), 102);  // the probe: the replay, then a read that finds the entry invalidated
  EXPECT_EQ(data.calls, calls + 1);
  EXPECT_NE(token(*backend, "tag:numbers"), before);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(backend->backend_state(), circuit_state::closed);
  EXPECT_TRUE(holds_value(*backend, "n:1", 102));

  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(data.calls, calls + 1);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST_F(invalidation_replay, a_key_invalidation_lost_in_an_outage_is_replayed_by_the_next_call) {
  // The breaker stays closed (one failure of five): the next call that reaches Redis replays.
  auto backend =
      make_degradable_backend(server.url(), deadline, {.consecutive_failures = 5, .clock = &clock});
  numbers<> f{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  EXPECT_EQ(f(2), 201);

  server.kill();
  data.version = 2;
  EXPECT_THROW(f.invalidate(1), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  restart_server();
  ASSERT_TRUE(holds_value(*backend, "n:1", 101));
  ASSERT_EQ(backend->backend_state(), circuit_state::closed);

  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_TRUE(holds_value(*backend, "n:1", 102));  // deleted, computed again and written

  const int calls = data.calls;
  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(f(2), 201);  // only key 1 was invalidated
  EXPECT_EQ(data.calls, calls);
  EXPECT_EQ(f.stats().hits, 2u);
}

TEST_F(invalidation_replay, a_clear_lost_in_an_outage_is_replayed_by_the_next_call) {
  auto backend =
      make_degradable_backend(server.url(), deadline, {.consecutive_failures = 5, .clock = &clock});
  numbers<> f{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  EXPECT_EQ(f(2), 201);

  server.kill();
  data.version = 2;
  EXPECT_THROW(f.clear(), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  restart_server();
  ASSERT_TRUE(holds_value(*backend, "n:1", 101));

  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(f(2), 202);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  const auto counters = raw_command(server.url(), "KEYS", counter_key(*backend, "fn:*"));
  ASSERT_EQ(counters.as_array().size(), 1u);  // the function's counter
  const int calls = data.calls;
  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(f(2), 202);
  EXPECT_EQ(data.calls, calls);
}

// The server is back and answers reads, but refuses the replay: an entry a pending invalidation
// covers is in Redis, readable, and still no call, peek or fail_safe lookup serves it (nor any
// other entry: the rule is per backend). Once the replay goes through, Redis serves hits again.
TEST_F(invalidation_replay, while_an_invalidation_is_pending_nothing_is_served_from_redis) {
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 0});  // never opens: Redis is always asked
  numbers<cachet::fail_safe<3600>> f{*backend, opts()};
  others other{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  EXPECT_EQ(f(2), 201);
  EXPECT_EQ(other(3), 301);
  const std::optional<std::string> before = token(*backend, "tag:numbers");

  server.kill();
  data.version = 2;
  EXPECT_THROW(backend->invalidate_tag("numbers"), cachet::redis::request_error);
  restart_server();
  refuse_invalidations();
  ASSERT_TRUE(holds_value(*backend, "n:1", 101));
  ASSERT_TRUE(holds_value(*backend, "other:3", 301));

  const int calls = data.calls;
  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(other(3), 302);
  EXPECT_EQ(f.peek(2), std::nullopt);
  data.down = true;
  EXPECT_THROW(f(2), outage);  // fail_safe finds no stale value to serve
  data.down = false;
  EXPECT_EQ(data.calls, calls + 3);
  EXPECT_EQ(f.stats().hits + other.stats().hits, 0u);
  EXPECT_EQ(f.stats().stale_served, 0u);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  // Nothing computed meanwhile was written, and the old entries are still there.
  EXPECT_TRUE(holds_value(*backend, "n:1", 101));
  EXPECT_TRUE(holds_value(*backend, "other:3", 301));
  EXPECT_EQ(token(*backend, "tag:numbers"), before);

  allow_invalidations();
  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_NE(token(*backend, "tag:numbers"), before);
  EXPECT_EQ(other(3), 301);  // not covered by the invalidation: a hit again
  EXPECT_EQ(f(1), 102);
  EXPECT_EQ(f.stats().hits, 1u);
  EXPECT_EQ(other.stats().hits, 1u);
}

TEST_F(invalidation_replay, identical_invalidations_are_kept_once_and_many_keys_fold_into_a_clear) {
  auto backend = std::make_unique<cachet::redis>(
      cachet_test::degraded_config(server.url(), 100ms),
      cachet::redis_options{.key_prefix = cachet_test::test_prefix(),
                            .breaker = {.consecutive_failures = 0},
                            .max_pending_key_invalidations = 2});
  numbers<> f{*backend, opts()};
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(f(i), i * 100 + 1);

  server.kill();
  data.version = 2;
  EXPECT_THROW(backend->invalidate_tag("other"), cachet::redis::request_error);
  EXPECT_THROW(backend->invalidate_tag("other"), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  EXPECT_THROW(f.invalidate(1), cachet::redis::request_error);
  EXPECT_THROW(f.invalidate(1), cachet::redis::request_error);
  EXPECT_THROW(f.invalidate(2), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 3u);
  // A third key is one too many: the function's generation moves on instead, which covers
  // every key of it, so the two DELs are dropped as well.
  EXPECT_THROW(f.invalidate(3), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 2u);
  EXPECT_THROW(f.invalidate(4), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 2u);

  restart_server();
  ASSERT_TRUE(holds_value(*backend, "n:4", 401));
  EXPECT_EQ(f(4), 402);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_NE(token(*backend, "tag:other"), std::nullopt);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(f(i), i * 100 + 2);
}

TEST_F(invalidation_replay, replay_invalidations_sends_them_now_and_throws_while_redis_is_down) {
  auto backend = make_degradable_backend(
      server.url(), deadline, {.consecutive_failures = 1, .cooldown = cooldown, .clock = &clock});
  numbers<> f{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  backend->replay_invalidations();  // nothing pending: nothing sent

  server.kill();
  EXPECT_THROW(f.invalidate(1), cachet::redis::request_error);
  EXPECT_THROW(backend->replay_invalidations(), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);

  restart_server();
  ASSERT_TRUE(holds_value(*backend, "n:1", 101));
  backend->replay_invalidations();  // ignores the open breaker, like an invalidation
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(stored(*backend, "n:1"), std::nullopt);
  EXPECT_EQ(backend->backend_state(), circuit_state::open);  // only a probe closes it
}

// A backend destroyed with invalidations pending loses them, and does not wait for Redis.
TEST_F(invalidation_replay, a_backend_destroyed_with_pending_invalidations_shuts_down) {
  auto backend = make_degradable_backend(server.url(), deadline, {.consecutive_failures = 0});
  numbers<> f{*backend, opts()};
  EXPECT_EQ(f(1), 101);
  server.pause();
  EXPECT_THROW(f.clear(), cachet::redis::request_error);
  EXPECT_EQ(backend->pending_invalidations(), 1u);
  backend.reset();
  server.resume();
}

}  // namespace
