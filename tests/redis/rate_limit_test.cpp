// cachet::redis_rate_limiter and cachet::rate_limit on a cachet::redis backend, against a real
// redis-server. Time is a cachet::manual_clock wherever a count or a duration is asserted.

#include <cachet/redis.hpp>
#include <cachet/redis/rate_limiter.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "redis/degraded_test_support.hpp"
#include "support/rate_limiter_decisions.hpp"
#include "support/redis_server.hpp"

namespace app {
int sends = 0;
int send_report(int user) {
  ++sends;
  return user;
}
int other_report(int user) { return -user; }
}  // namespace app

namespace cachet_test {

// The decisions every limiter makes (support/rate_limiter_decisions.hpp), with state in Redis.
struct redis_limiter {
  explicit redis_limiter(cachet::manual_clock& clock)
      : limiter{*backend, "api", decisions::limit, decisions::period, {.clock = &clock}} {}
  // Every decision came from Redis, none from the local fallback.
  ~redis_limiter() { EXPECT_EQ(limiter.fallbacks(), 0u); }

  std::unique_ptr<cachet::redis> backend = make_test_backend(shared_redis_url());
  cachet::redis::rate_limiter limiter;
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis, rate_limiter_decisions, ::testing::Types<redis_limiter>);
}  // namespace cachet_test

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using cachet_test::command;
using cachet_test::command_calls;
using cachet_test::make_test_backend;
using cachet_test::private_redis_server;
using cachet_test::shared_redis_url;
using cachet_test::test_prefix;

constexpr std::uint64_t limit = 5;
// Keys expire in the server's time, so a period far longer than a test runs keeps a test with a
// manual clock from seeing its state vanish.
constexpr auto period = 1h;
constexpr cachet::clock::duration interval =
    std::chrono::duration_cast<cachet::clock::duration>(period) / limit;

std::vector<std::string> keys_of(cachet::redis& backend) {
  const auto reply = command(backend, "KEYS", backend.key_options().key_prefix + ":*");
  std::vector<std::string> out;
  for (const auto& k : reply.as_array()) out.push_back(k.as_string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string counters(cachet::redis& backend) { return backend.key_options().key_prefix + ":v1#"; }

using cachet_test::admitted_count;

class redis_rate_limiter_test : public ::testing::Test {
 protected:
  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend = make_test_backend(shared_redis_url());
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period, {.clock = &clock}};
};

TEST_F(redis_rate_limiter_test, names_are_independent) {
  cachet::redis::rate_limiter other{*backend, "other", limit, period, {.clock = &clock}};
  EXPECT_EQ(admitted_count(limiter, "alice", 20), static_cast<int>(limit));
  EXPECT_EQ(admitted_count(other, "alice", 20), static_cast<int>(limit));
  EXPECT_FALSE(limiter.try_acquire("alice"));
}

// The same limiter in two objects (two threads, two services on one host...) is one limit.
TEST_F(redis_rate_limiter_test, two_limiters_with_one_name_share_the_limit) {
  cachet::redis::rate_limiter twin{*backend, "api", limit, period, {.clock = &clock}};
  EXPECT_EQ(admitted_count(limiter, "k", 3), 3);
  EXPECT_EQ(twin.try_acquire("k").remaining, limit - 4);
  EXPECT_EQ(admitted_count(twin, "k", 20), 1);
  EXPECT_EQ(admitted_count(limiter, "k", 20), 0);
}

TEST_F(redis_rate_limiter_test, state_is_one_key_that_expires_when_the_bucket_is_full_again) {
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{});
  clock.set(cachet::clock::time_point(1'234'567'890'123ns));
  ASSERT_TRUE(limiter.try_acquire("user:42"));
  const std::string key = counters(*backend) + "rate:api:user:42";
  EXPECT_EQ(limiter.redis_key("user:42"), key);
  EXPECT_EQ(keys_of(*backend), std::vector<std::string>{key});
  // The theoretical arrival time, readable: seconds and nanoseconds.
  const auto tat = clock.now() + interval;
  const auto tat_ns = tat.time_since_epoch().count();
  char expected[64];
  std::snprintf(expected, sizeof expected, "%lld.%09lld",
                static_cast<long long>(tat_ns / 1'000'000'000),
                static_cast<long long>(tat_ns % 1'000'000'000));
  EXPECT_EQ(command(*backend, "GET", key).as_string(), expected);
  // It expires when the bucket would be full again (rounded up to the next millisecond).
  const auto ms = [](cachet::clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count() + 1;
  };
  long long pttl = command(*backend, "PTTL", key).as_int();
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, ms(interval));
  EXPECT_EQ(admitted_count(limiter, "user:42", 20), static_cast<int>(limit) - 1);
  pttl = command(*backend, "PTTL", key).as_int();
  EXPECT_GT(pttl, ms(interval));
  EXPECT_LE(pttl, ms(interval * static_cast<std::int64_t>(limit)));
  EXPECT_FALSE(limiter.try_acquire("user:42"));  // a rejection writes nothing
  EXPECT_LE(command(*backend, "PTTL", key).as_int(), pttl);
}

// The script and detail::gcra agree on every decision, including times beyond 2^53 ns (where
// Lua's doubles lose nanoseconds) and an interval that is not a round number.
TEST(redis_rate_limiter, decides_exactly_as_the_local_limiter) {
  auto backend = make_test_backend(shared_redis_url());
  constexpr std::uint64_t odd_limit = 7;
  constexpr auto odd_period = 3s + 1ns;
  for (const auto start : {0ns, 1'700'000'000'123'456'789ns}) {
    cachet::manual_clock clock;
    clock.set(cachet::clock::time_point(start));
    cachet::rate_limiter local{odd_limit, odd_period, &clock};
    cachet::redis::rate_limiter shared{
        *backend, "same" + std::to_string(start.count()), odd_limit, odd_period, {.clock = &clock}};
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::int64_t> step(0, local.interval().count() * 3 / 2);
    int admitted = 0;
    for (int i = 0; i < 400; ++i) {
      if (i % 3 == 0) clock.advance(cachet::clock::duration(step(rng)));
      const std::string key = "k" + std::to_string(rng() % 3);
      const cachet::rate_limit_decision want = local.try_acquire(key);
      const cachet::rate_limit_decision got = shared.try_acquire(key);
      ASSERT_EQ(got.allowed, want.allowed) << "call " << i;
      ASSERT_EQ(got.retry_after, want.retry_after) << "call " << i;
      ASSERT_EQ(got.remaining, want.remaining) << "call " << i;
      admitted += got.allowed ? 1 : 0;
    }
    EXPECT_GT(admitted, 50);  // both outcomes were exercised
    EXPECT_LT(admitted, 350);
    EXPECT_EQ(shared.fallbacks(), 0u);
  }
}

TEST(redis_rate_limiter, reads_the_server_clock_by_default) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period};
  // An interval is 12 minutes: no call comes back while the test runs.
  EXPECT_EQ(admitted_count(limiter, "k", 20), static_cast<int>(limit));
  const cachet::rate_limit_decision d = limiter.try_acquire("k");
  EXPECT_GT(d.retry_after, interval - 1min);
  EXPECT_LE(d.retry_after, interval);
  const std::string stored = command(*backend, "GET", limiter.redis_key("k")).as_string();
  const long long server_now = std::stoll(command(*backend, "TIME").as_array()[0].as_string());
  const long long stored_seconds = std::stoll(stored.substr(0, stored.find('.')));
  // The state is in the server's time (seconds since 1970), a period ahead.
  const long long ahead = stored_seconds - server_now;
  EXPECT_GE(ahead, std::chrono::duration_cast<std::chrono::seconds>(period).count() - 60);
  EXPECT_LE(ahead, std::chrono::duration_cast<std::chrono::seconds>(period).count() + 1);
}

TEST(redis_rate_limiter, async_try_acquire_makes_the_same_decisions) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period, {.clock = &clock}};
  asio::io_context io;
  std::vector<cachet::rate_limit_decision> seen;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (std::uint64_t i = 0; i <= limit; ++i) {
          seen.push_back(co_await limiter.async_try_acquire("k"));
        }
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  ASSERT_FALSE(failure);
  ASSERT_EQ(seen.size(), limit + 1);
  for (std::uint64_t i = 0; i < limit; ++i) {
    EXPECT_EQ(seen[i], (cachet::rate_limit_decision{true, {}, limit - 1 - i}));
  }
  EXPECT_EQ(seen[limit], (cachet::rate_limit_decision{false, interval, 0}));
  EXPECT_FALSE(limiter.try_acquire("k"));  // the blocking and the async calls share the state
}

TEST(redis_rate_limiter, one_evalsha_per_check_and_eval_only_when_the_server_lost_the_script) {
  private_redis_server server;  // its own, so that the command counts are ours alone
  auto backend = make_test_backend(server.url());
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period, {.clock = &clock}};
  ASSERT_TRUE(limiter.try_acquire("k"));  // loads the script
  const long long evalsha = command_calls(*backend, "evalsha");
  const long long eval = command_calls(*backend, "eval");
  EXPECT_EQ(admitted_count(limiter, "k", 10), static_cast<int>(limit) - 1);
  EXPECT_EQ(command_calls(*backend, "evalsha") - evalsha, 10);
  EXPECT_EQ(command_calls(*backend, "eval") - eval, 0);

  command(*backend, "SCRIPT", "FLUSH");
  clock.advance(interval);
  EXPECT_TRUE(limiter.try_acquire("k"));  // NOSCRIPT, then EVAL, which caches it again
  EXPECT_EQ(command_calls(*backend, "eval") - eval, 1);
  EXPECT_FALSE(limiter.try_acquire("k"));
  EXPECT_EQ(command_calls(*backend, "eval") - eval, 1);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST(redis_rate_limiter, redis_down_limits_locally_counts_it_and_asks_redis_again_later) {
  private_redis_server server;
  auto backend = make_test_backend(server.url(), 300ms);
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{
      *backend, "api", limit, period, {.clock = &clock, .recheck_after = 10s}};
  EXPECT_EQ(admitted_count(limiter, "k", 3), 3);

  server.pause();  // a hung server: checks time out
  // The local limit starts full: each process admits up to the limit on its own.
  cachet::rate_limit_decision d = limiter.try_acquire("k");
  EXPECT_TRUE(d);
  EXPECT_EQ(d.remaining, limit - 1);
  EXPECT_EQ(limiter.fallbacks(), 1u);
  // Within recheck_after, Redis is not asked: no call waits for the timeout again.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(admitted_count(limiter, "k", 20), static_cast<int>(limit) - 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(limiter.fallbacks(), 21u);

  server.resume();
  clock.advance(10s);  // recheck_after has passed; less than an interval, so nothing refilled
  // Redis again. It counted the 3 calls before the outage, and the check that timed out too:
  // the server ran it when it woke up (a late check errs on the side of fewer calls).
  d = limiter.try_acquire("k");
  EXPECT_TRUE(d);
  EXPECT_EQ(d.remaining, limit - 5);
  EXPECT_FALSE(limiter.try_acquire("k"));
  EXPECT_EQ(limiter.fallbacks(), 21u);
}

TEST(redis_rate_limiter, throw_error_lets_the_redis_error_through) {
  private_redis_server server;
  auto backend = make_test_backend(server.url(), 300ms);
  cachet::manual_clock clock;
  cachet::redis::rate_limiter limiter{
      *backend,
      "api",
      limit,
      period,
      {.clock = &clock, .on_outage = cachet::redis_outage_policy::throw_error}};
  EXPECT_TRUE(limiter.try_acquire("k"));
  server.kill();
  EXPECT_THROW(limiter.try_acquire("k"), cachet::redis::request_error);
  EXPECT_THROW(limiter.try_acquire("k"), cachet::redis::request_error);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST(redis_rate_limiter, a_blocking_check_on_the_io_thread_fails_instead_of_deadlocking) {
  auto backend = make_test_backend(shared_redis_url());
  cachet::redis::rate_limiter limiter{*backend, "api", limit, period};
  std::promise<std::error_code> code;
  asio::post(backend->runtime().context(), [&] {
    try {
      limiter.try_acquire("k");
      code.set_value({});
    } catch (const cachet::redis::request_error& e) {
      code.set_value(e.code());
    }
  });
  EXPECT_EQ(code.get_future().get(), cachet::redis::error::blocking_call_on_io_thread);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST(redis_rate_limiter, rejects_impossible_settings) {
  auto backend = make_test_backend(shared_redis_url());
  EXPECT_THROW(cachet::redis::rate_limiter(*backend, "", 1, 1s), cachet::error);
  EXPECT_THROW(cachet::redis::rate_limiter(*backend, "x", 0, 1s), cachet::error);
  EXPECT_THROW(cachet::redis::rate_limiter(*backend, "x", 10, 5ns), cachet::error);
  EXPECT_THROW(cachet::redis::rate_limiter(*backend, "x", 1, std::chrono::hours(24 * 105)),
               cachet::error);
  EXPECT_NO_THROW(cachet::redis::rate_limiter(*backend, "x", 1, std::chrono::hours(24 * 104)));
}

// --- the policy on a Redis backend --------------------------------------------------------------

using limited_report =
    cachet::cached<&app::send_report, cachet::ttl<300>, cachet::backend<cachet::redis>,
                   cachet::rate_limit<3, cachet::per<3600>, cachet::by<"{}">>>;

class redis_rate_limit_policy : public ::testing::Test {
 protected:
  void SetUp() override { app::sends = 0; }
  cachet::manual_clock clock;
  std::unique_ptr<cachet::redis> backend = make_test_backend(shared_redis_url());
};

TEST_F(redis_rate_limit_policy, counts_every_call_in_redis_and_throws_rate_limited) {
  limited_report report{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(report(1), 1);
  EXPECT_EQ(report(1), 1);  // a hit, still counted
  EXPECT_EQ(report(1), 1);
  try {
    report(1);
    ADD_FAILURE() << "the fourth call of user 1 was admitted";
  } catch (const cachet::rate_limited& e) {
    EXPECT_EQ(e.retry_after(), 20min);
  }
  EXPECT_EQ(report(2), 2);  // another user has a limit of its own
  EXPECT_EQ(app::sends, 2);
  // Under the function's name, next to its entries.
  const auto keys = keys_of(*backend);
  const std::string limit_key =
      counters(*backend) +
      "rate:" + std::string(cachet::detail::function_name<&app::send_report>()) + ":1";
  EXPECT_NE(std::find(keys.begin(), keys.end(), limit_key), keys.end()) << limit_key;
  clock.advance(20min);
  EXPECT_EQ(report(1), 1);
  EXPECT_THROW(report(1), cachet::rate_limited);
}

// The limit is in Redis, so every cached object of the function shares it, as every process does.
TEST_F(redis_rate_limit_policy, two_cached_objects_of_one_function_share_the_limit) {
  limited_report a{*backend, cachet::options{.clock = &clock}};
  limited_report b{*backend, cachet::options{.clock = &clock}};
  cachet::cached<&app::other_report, cachet::backend<cachet::redis>,
                 cachet::rate_limit<3, cachet::per<3600>, cachet::by<"{}">>>
      other{*backend, cachet::options{.clock = &clock}};
  EXPECT_EQ(a(7), 7);
  EXPECT_EQ(b(7), 7);
  EXPECT_EQ(a(7), 7);
  EXPECT_THROW(b(7), cachet::rate_limited);
  EXPECT_THROW(a(7), cachet::rate_limited);
  EXPECT_EQ(other(7), -7);  // another function, another limit
}

TEST_F(redis_rate_limit_policy, per_process_keeps_a_local_limit_per_cached_object) {
  using local_report =
      cachet::cached<&app::send_report, cachet::backend<cachet::redis>,
                     cachet::rate_limit<2, cachet::per<3600>, cachet::per_process>>;
  local_report a{*backend, cachet::options{.clock = &clock}};
  local_report b{*backend, cachet::options{.clock = &clock}};
  a(1);
  a(2);
  EXPECT_THROW(a(3), cachet::rate_limited);
  EXPECT_NO_THROW(b(3));  // b has a limit of its own
  for (const std::string& key : keys_of(*backend)) {
    EXPECT_EQ(key.find("#rate:"), std::string::npos) << key;
  }
}

TEST_F(redis_rate_limit_policy, a_function_object_is_limited_under_its_key_template) {
  auto square = cachet::make_cached<cachet::key<"sq:{}">, cachet::backend<cachet::redis>,
                                    cachet::rate_limit<1, cachet::per<3600>>>(
      [](int x) { return x * x; }, *backend, cachet::options{.clock = &clock});
  EXPECT_EQ(square(3), 9);
  EXPECT_THROW(square(4), cachet::rate_limited);
  const auto keys = keys_of(*backend);
  EXPECT_NE(std::find(keys.begin(), keys.end(), counters(*backend) + "rate:sq:{}:"), keys.end());
}

// --- two processes ------------------------------------------------------------------------------

// Exactly N per window between two processes sharing Redis. The child is forked before this
// process has any thread or Asio object (each test runs in a process of its own under CTest;
// the check below makes sure), and makes its calls on command, at the times the parent sends.
struct child_process {
  pid_t pid = -1;
  int to_child = -1;
  int from_child = -1;

  // One round: the child sets its clock to `at` and makes `attempts` calls; replies how many
  // were admitted.
  struct order {
    std::int64_t at;
    std::int32_t attempts;
  };

  template <class Attempts>
  static child_process start(Attempts attempts) {
    int down[2], up[2];
    if (::pipe(down) != 0 || ::pipe(up) != 0) throw std::runtime_error("pipe failed");
    child_process c;
    c.pid = ::fork();
    if (c.pid < 0) throw std::runtime_error("fork failed");
    if (c.pid == 0) {
      ::close(down[1]);
      ::close(up[0]);
      int status = 0;
      try {
        cachet::manual_clock clock;
        auto calls = attempts(clock);
        order o;
        while (::read(down[0], &o, sizeof o) == static_cast<ssize_t>(sizeof o)) {
          clock.set(cachet::clock::time_point(cachet::clock::duration(o.at)));
          const std::int32_t admitted = calls(o.attempts);
          if (::write(up[1], &admitted, sizeof admitted) != sizeof admitted) {
            status = 3;
            break;
          }
        }
      } catch (...) {
        status = 2;
      }
      ::_exit(status);  // no gtest or static destructors in the child
    }
    ::close(down[0]);
    ::close(up[1]);
    c.to_child = down[1];
    c.from_child = up[0];
    return c;
  }

  void send(std::int64_t at, std::int32_t attempts) const {
    const order o{at, attempts};
    ASSERT_EQ(::write(to_child, &o, sizeof o), static_cast<ssize_t>(sizeof o));
  }
  std::int32_t receive() const {
    std::int32_t admitted = -1;
    if (::read(from_child, &admitted, sizeof admitted) != sizeof admitted) return -1;
    return admitted;
  }

  // Closing the pipe ends the child's loop.
  int finish() {
    ::close(to_child);
    ::close(from_child);
    to_child = from_child = -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  ~child_process() {
    if (pid > 0) finish();
  }
};

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

// Runs `windows` rounds in both processes at the same times: each window starts a period after
// the last (every bucket full again) and makes `attempts` calls in each process at once.
template <class Attempts>
void expect_exactly_the_limit_per_window(Attempts attempts) {
  ASSERT_EQ(thread_count(), 1u) << "fork() needs a process without threads; run this test alone";
  const std::string prefix = test_prefix();
  const std::string url = shared_redis_url();
  child_process child = child_process::start(
      [&](cachet::manual_clock& clock) { return attempts(url, prefix, clock); });
  cachet::manual_clock clock;
  auto calls = attempts(url, prefix, clock);
  constexpr int attempts_each = 40;
  for (int window = 0; window < 4; ++window) {
    const std::int64_t at = window * std::chrono::nanoseconds(period).count();
    child.send(at, attempts_each);
    clock.set(cachet::clock::time_point(cachet::clock::duration(at)));
    const int here = calls(attempts_each);
    const int there = child.receive();
    ASSERT_GE(there, 0) << "the child process failed";
    EXPECT_EQ(here + there, static_cast<int>(limit))
        << "window " << window << ": " << here << " here, " << there << " in the child";
  }
  // Between full refills, one call per interval, whichever process makes it.
  for (int step = 1; step <= 3; ++step) {
    const std::int64_t at = 3 * std::chrono::nanoseconds(period).count() +
                            step * std::chrono::nanoseconds(interval).count();
    child.send(at, attempts_each);
    clock.set(cachet::clock::time_point(cachet::clock::duration(at)));
    const int here = calls(attempts_each);
    EXPECT_EQ(here + child.receive(), 1) << "step " << step;
  }
  EXPECT_EQ(child.finish(), 0);
}

// What each process calls with: a backend, and what uses it (destroyed first).
template <class User>
struct rig {
  std::unique_ptr<cachet::redis> backend;
  std::unique_ptr<User> user;  // destroyed first, before the backend it uses
};

TEST(redis_rate_limiter_processes, two_processes_admit_exactly_the_limit_between_them) {
  expect_exactly_the_limit_per_window([](const std::string& url, const std::string& prefix,
                                         cachet::manual_clock& clock) {
    auto r = std::make_shared<rig<cachet::redis::rate_limiter>>();
    r->backend = make_test_backend(url, 2000ms, prefix);
    r->user = std::make_unique<cachet::redis::rate_limiter>(
        *r->backend, "api", limit, period, cachet::redis_rate_limiter_settings{.clock = &clock});
    return [r](int attempts) {
      const int admitted = admitted_count(*r->user, "shared", attempts);
      return r->user->fallbacks() == 0 ? admitted : -1;
    };
  });
}

TEST(redis_rate_limiter_processes, the_policy_in_two_processes_admits_exactly_the_limit) {
  using report = cachet::cached<&app::send_report, cachet::backend<cachet::redis>,
                                cachet::rate_limit<limit, cachet::per<3600>, cachet::by<"{}">>>;
  expect_exactly_the_limit_per_window(
      [](const std::string& url, const std::string& prefix, cachet::manual_clock& clock) {
        auto r = std::make_shared<rig<report>>();
        r->backend = make_test_backend(url, 2000ms, prefix);
        r->user = std::make_unique<report>(*r->backend, cachet::options{.clock = &clock});
        return [r](int attempts) {
          int admitted = 0;
          for (int i = 0; i < attempts; ++i) {
            try {
              (*r->user)(42);
              ++admitted;
            } catch (const cachet::rate_limited&) {
            }
          }
          return admitted;
        };
      });
}

}  // namespace
