// cachet::lease (issue #12): on a miss one process in the fleet computes, the others wait for its
// value. Processes are real ones (this binary run again with --lease-worker) where the point is a
// fleet, and separate backends of one process (each its own connections and lease holder, as
// Redis sees processes) where a test must hold one at a precise point.

#include <cachet.hpp>
#include <cachet/redis.hpp>
#include <cachet/tiered.hpp>

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::string_view worker_flag = "--lease-worker";
constexpr std::string_view crashing_holder_flag = "--lease-crashing-holder";

}  // namespace

namespace app {

// The test's own view of Redis: what the workers and functions report, and what they wait for.
cachet_test::data_connection* data = nullptr;
std::string data_prefix;
std::atomic<long> calls{0};

std::string data_key(std::string_view name) { return data_prefix + ":" + std::string(name); }

// The report every process asks for: it counts its computations in Redis, then holds until the
// test releases it, so that every process has missed before any value exists.
long build_report(int id) {
  calls.fetch_add(1);
  data->exec("INCR", data_key("computed"));
  if (!cachet_test::wait_until([] { return data->get_long(data_key("release")) != 0; }, 60s)) {
    throw std::runtime_error("never released");
  }
  return 1000 + id + data->get_long(data_key("version"));
}

// The same, for the tests within one process: the holder's calls, the waiter's calls.
std::atomic<bool> hold{false};
std::atomic<bool> fail_next{false};
// The data is read first, so a report held up is computed from what was there when it began.
long slow_report(int id) {
  const long version = data->get_long(data_key("version"));
  calls.fetch_add(1);
  if (!cachet_test::wait_until([] { return !hold.load(); }, 60s)) {
    throw std::runtime_error("never released");
  }
  if (fail_next.exchange(false)) throw std::runtime_error("the report failed");
  return 1000 + id + version;
}

}  // namespace app

namespace {

using fleet_report = cachet::cached<&app::build_report, cachet::ttl<300>, cachet::key<"report:{}">,
                                    cachet::backend<cachet::redis>, cachet::lease<30>>;
using leased = cachet::cached<&app::slow_report, cachet::ttl<300>, cachet::key<"slow:{}">,
                              cachet::backend<cachet::redis>, cachet::lease<30>>;
using short_lease = cachet::cached<&app::slow_report, cachet::ttl<300>, cachet::key<"slow:{}">,
                                   cachet::backend<cachet::redis>, cachet::lease<1>>;
using short_fleet_report =
    cachet::cached<&app::build_report, cachet::ttl<300>, cachet::key<"report:{}">,
                   cachet::backend<cachet::redis>, cachet::lease<1>>;

// A worker process: asks for report 1 on a thread; its main thread tells the test once that call
// has missed (it has read Redis and is computing or waiting), then reports what it got.
int run_worker(const std::string& url, const std::string& prefix) {
  return cachet_test::run_child("lease worker", url, app::data, [&](auto& data) {
    app::data_prefix = prefix + "-data";
    auto backend = cachet_test::make_test_backend(url, 5s, prefix);
    fleet_report report{*backend};
    auto answer = std::async(std::launch::async, [&] { return report(1); });
    if (!cachet_test::wait_until([&] { return report.stats().misses >= 1; }, 60s)) {
      throw std::runtime_error("the call never missed");
    }
    data.exec("INCR", app::data_key("inside"));
    const long value = answer.get();
    cachet::redis::request totals;
    totals.push("INCRBY", app::data_key("loads"), report.stats().loads);
    totals.push("INCRBY", app::data_key("wrong"), value == 1001 ? 0 : 1);
    data.exec(totals);
    return 0;
  });
}

// A holder that crashes: asks for report 2, takes its one-second lease, and is killed by the test
// while its function waits.
int run_crashing_holder(const std::string& url, const std::string& prefix) {
  return cachet_test::run_child("lease holder", url, app::data, [&](auto&) {
    app::data_prefix = prefix + "-data";
    auto backend = cachet_test::make_test_backend(url, 5s, prefix);
    short_fleet_report report{*backend};
    report(2);
    std::fprintf(stderr, "lease holder %d: was not killed\n", static_cast<int>(::getpid()));
    return 1;
  });
}

class Lease : public cachet_test::process_test {
 protected:
  Lease() : process_test(app::data, app::data_prefix) {}
  void SetUp() override {
    process_test::SetUp();
    app::calls = 0;
    app::hold = false;
    app::fail_next = false;
  }
};

TEST_F(Lease, FourProcessesAskingForOneColdKeyComputeItOnce) {
  constexpr int workers = 4;
  cachet_test::child_processes children;
  ASSERT_TRUE(children.start(worker_flag, {url, prefix}, workers)) << "fork failed";
  // Every process has read the cold entry and missed before the computation may finish: without
  // the lease each would compute.
  EXPECT_TRUE(cachet_test::wait_until(
      [&] { return data->get_long(app::data_key("inside")) == workers; }, 60s));
  data->exec("SET", app::data_key("release"), 1);
  EXPECT_TRUE(children.reaped_cleanly()) << "a child failed (see its stderr)";
  EXPECT_EQ(data->get_long(app::data_key("computed")), 1);
  EXPECT_EQ(data->get_long(app::data_key("loads")), 1);
  EXPECT_EQ(data->get_long(app::data_key("wrong")), 0);
}

// Two backends are two processes to Redis: a holder that is computing, a waiter that missed.
struct two_processes {
  explicit two_processes(const std::string& url, const std::string& prefix)
      : holder_backend(cachet_test::make_test_backend(url, 5s, prefix)),
        waiter_backend(cachet_test::make_test_backend(url, 5s, prefix)) {}
  std::unique_ptr<cachet::redis> holder_backend;
  std::unique_ptr<cachet::redis> waiter_backend;
};

TEST_F(Lease, AWaiterAnswersWithTheHoldersValueWithoutComputing) {
  two_processes p(url, prefix);
  leased holder{*p.holder_backend};
  leased waiter{*p.waiter_backend};
  app::hold = true;
  auto held = std::async(std::launch::async, [&] { return holder(7); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  auto waited = std::async(std::launch::async, [&] { return waiter(7); });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  app::hold = false;
  EXPECT_EQ(held.get(), 1007);
  EXPECT_EQ(waited.get(), 1007);
  EXPECT_EQ(app::calls.load(), 1);
  EXPECT_EQ(waiter.stats().loads, 0u);
  EXPECT_EQ(holder.stats().loads, 1u);
}

TEST_F(Lease, AnAsyncWaiterAnswersWithTheHoldersValue) {
  two_processes p(url, prefix);
  leased holder{*p.holder_backend};
  leased waiter{*p.waiter_backend};
  app::hold = true;
  auto held = std::async(std::launch::async, [&] { return holder(8); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  boost::asio::io_context io;
  std::future<long> waited = boost::asio::co_spawn(io, waiter.async(8), boost::asio::use_future);
  std::thread runner([&] { io.run(); });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  app::hold = false;
  EXPECT_EQ(held.get(), 1008);
  EXPECT_EQ(waited.get(), 1008);
  runner.join();
  EXPECT_EQ(app::calls.load(), 1);
  EXPECT_EQ(waiter.stats().loads, 0u);
}

TEST_F(Lease, AHolderWhoseFunctionThrowsGivesTheLeaseUp) {
  two_processes p(url, prefix);
  leased holder{*p.holder_backend};
  leased waiter{*p.waiter_backend};
  app::hold = true;
  app::fail_next = true;
  auto held = std::async(std::launch::async, [&] { return holder(9); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  auto waited = std::async(std::launch::async, [&] {
    const auto start = std::chrono::steady_clock::now();
    const long value = waiter(9);
    return std::pair{value, std::chrono::steady_clock::now() - start};
  });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  app::hold = false;
  EXPECT_THROW(held.get(), std::runtime_error);
  const auto [value, waited_for] = waited.get();
  EXPECT_EQ(value, 1009);
  EXPECT_EQ(waiter.stats().loads, 1u);
  EXPECT_EQ(app::calls.load(), 2);
  // Released at once, not when the 30 s lease ran out.
  EXPECT_LT(waited_for, 15s);
}

TEST_F(Lease, AnInvalidationDuringTheHoldersLoadIsNotAnsweredWithItsValue) {
  two_processes p(url, prefix);
  leased holder{*p.holder_backend};
  leased waiter{*p.waiter_backend};
  app::hold = true;
  auto held = std::async(std::launch::async, [&] { return holder(10); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  // The data changes while the holder computes from the old; the change is confirmed by
  // invalidating the key, after which nobody may be answered with the old version.
  data->exec("SET", app::data_key("version"), 5);
  auto waited = std::async(std::launch::async, [&] { return waiter(10); });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  holder.invalidate(10);
  app::hold = false;
  EXPECT_EQ(held.get(), 1010);  // its caller gets what it computed; Redis refused to keep it
  EXPECT_EQ(waited.get(), 1015);
  EXPECT_EQ(holder(10), 1015);
}

// The holder's process dies while computing: its lease is no longer extended and runs out after
// one second, and the waiter computes.
TEST_F(Lease, WhenTheHolderCrashesItsLeaseRunsOutAndAWaiterComputes) {
  cachet_test::child_processes holder;
  ASSERT_TRUE(holder.start(crashing_holder_flag, {url, prefix})) << "fork failed";
  ASSERT_TRUE(
      cachet_test::wait_until([&] { return data->get_long(app::data_key("computed")) == 1; }, 60s));
  holder.kill();
  EXPECT_FALSE(holder.reaped_cleanly());
  data->exec("SET", app::data_key("release"), 1);
  auto backend = cachet_test::make_test_backend(url, 5s, prefix);
  short_fleet_report waiter{*backend};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(waiter(2), 1002);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  EXPECT_EQ(data->get_long(app::data_key("computed")), 2);
  EXPECT_EQ(waiter.stats().loads, 1u);
}

// The end of the lease in the entry's `l` field ("<until ms>:<holder>"), 0 without one.
long lease_until(cachet_test::data_connection& data, const std::string& entry) {
  const cachet::redis::value held = data.exec("HGET", entry, "l");
  if (!held.is_string()) return 0;
  return std::stol(held.as_string().substr(0, held.as_string().find(':')));
}

// A holder that computes longer than its one-second lease keeps it: it is extended every half
// second, and the waiter answers with the holder's value without computing.
TEST_F(Lease, AHolderThatComputesLongerThanItsLeaseKeepsIt) {
  two_processes p(url, prefix);
  short_lease holder{*p.holder_backend};
  short_lease waiter{*p.waiter_backend};
  app::hold = true;
  auto held = std::async(std::launch::async, [&] { return holder(11); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  auto waited = std::async(std::launch::async, [&] { return waiter(11); });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  const std::string entry = prefix + ":v1:slow:11";
  const long first_until = lease_until(*data, entry);
  ASSERT_GT(first_until, 0);
  // Extended until half a second past the first lease's end: by then the waiter, which reads
  // again at most every 50 ms, has seen the first lease run out if it was not extended.
  EXPECT_TRUE(
      cachet_test::wait_until([&] { return lease_until(*data, entry) >= first_until + 1500; }, 20s))
      << "the lease was not extended";
  EXPECT_EQ(app::calls.load(), 1) << "the waiter computed while the holder still was";
  app::hold = false;
  EXPECT_EQ(held.get(), 1011);
  EXPECT_EQ(waited.get(), 1011);
  EXPECT_EQ(app::calls.load(), 1);
  EXPECT_EQ(waiter.stats().loads, 0u);
  EXPECT_EQ(lease_until(*data, entry), 0) << "the write ends the lease";
}

// The lease is the Redis tier's: a replica whose memory and Redis both miss waits for another's
// computation as a plain Redis backend does.
TEST_F(Lease, OnTwoTiersAWaiterAnswersWithTheHoldersValue) {
  using tiers = cachet::tiered<cachet::memory, cachet::redis>;
  using tiered_report = cachet::cached<&app::slow_report, cachet::ttl<300>, cachet::key<"slow:{}">,
                                       cachet::backend<tiers>, cachet::lease<30>>;
  two_processes p(url, prefix);
  cachet::memory holder_memory;
  cachet::memory waiter_memory;
  tiers holder_tiers{holder_memory, *p.holder_backend};
  tiers waiter_tiers{waiter_memory, *p.waiter_backend};
  tiered_report holder{holder_tiers};
  tiered_report waiter{waiter_tiers};
  app::hold = true;
  auto held = std::async(std::launch::async, [&] { return holder(12); });
  ASSERT_TRUE(cachet_test::wait_until([] { return app::calls.load() == 1; }));
  auto waited = std::async(std::launch::async, [&] { return waiter(12); });
  ASSERT_TRUE(cachet_test::wait_until([&] { return waiter.stats().misses == 1; }));
  app::hold = false;
  EXPECT_EQ(held.get(), 1012);
  EXPECT_EQ(waited.get(), 1012);
  EXPECT_EQ(app::calls.load(), 1);
  EXPECT_EQ(waiter.stats().loads, 0u);
}

long doubled(int x) { return 2L * x; }

TEST(LeaseOnMemory, IsTheInProcessSingleFlight) {
  cachet::cached<&doubled, cachet::ttl<30>, cachet::lease<10>> c;
  EXPECT_EQ(c(4), 8);
  EXPECT_EQ(c(4), 8);
  EXPECT_EQ(c.stats().loads, 1u);
}

}  // namespace

// GoogleTest's own main, unless this binary was started as a worker process by a test above.
int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == worker_flag) return run_worker(argv[2], argv[3]);
  if (argc == 4 && std::string_view(argv[1]) == crashing_holder_flag) {
    return run_crashing_holder(argv[2], argv[3]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
