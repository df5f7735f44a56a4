// Cached functions on a real 3-master Redis Cluster the test starts (issue #13): entries spread
// over every master with exact load counts, tags and clear() across slots with zero stale reads,
// an evicted bucket counter never reviving an entry, an invalidation with a master down kept
// and replayed once it returns, rate limits spread by key, async_many in order, and two backend
// objects (two "processes") seeing each other's invalidations. On a cluster with replicas, a live
// reshard of slots holding buckets and a replica failover under steady cached load with
// invalidations: zero wrong or stale values, failures within documented bounds.

#include <cachet/redis.hpp>
#include <cachet/redis/rate_limiter.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis/client_test_support.hpp"
#include "support/redis_cluster.hpp"

namespace app {
// The data cached functions read: a value is its id and the generation it was computed at, so a
// value of an older generation after an invalidation is a stale read.
std::atomic<long> generation{0};
std::atomic<long> loads{0};
long item(long id) {
  loads.fetch_add(1);
  return id * 1000 + generation.load();
}

// The data of the tests under load: each record has a version of its own, which the test bumps
// before it invalidates the record (or the tag of all), so a value's version tells which data it
// was computed from.
constexpr long record_ids = 4096;
std::array<std::atomic<long>, record_ids> record_versions{};
constexpr long record_stride = 1'000'000;
long record(long id) { return id * record_stride + record_versions.at(id).load(); }
}  // namespace app

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using item_cache = cachet::cached<&app::item, cachet::key<"item:{}">, cachet::tags<"items">,
                                  cachet::backend<cachet::redis>>;
using record_cache = cachet::cached<&app::record, cachet::key<"record:{}">, cachet::tags<"records">,
                                    cachet::backend<cachet::redis>>;

class ClusterBackend : public ::testing::Test {
 public:
  static void SetUpTestSuite() { cluster_ = std::make_unique<cachet_test::redis_cluster>(); }
  static void TearDownTestSuite() { cluster_.reset(); }

 protected:
  void SetUp() override {
    app::generation = 0;
    app::loads = 0;
  }

  // Each test has a prefix of its own; two backends with one prefix are two processes sharing
  // the cache.
  static std::unique_ptr<cachet::redis> make_backend(const std::string& prefix) {
    return std::make_unique<cachet::redis>(
        cachet_test::fast_config(cluster_->url()),
        cachet::redis_options{.key_prefix = "cb-" + prefix,
                              .breaker = {.consecutive_failures = 0}});
  }

  // How many reads of ids [0, n) came back with a generation older than `current`.
  static long stale_reads(item_cache& f, long n, long current) {
    long stale = 0;
    for (long id = 0; id < n; ++id) {
      const long v = f(id);
      EXPECT_EQ(v / 1000, id);
      if (v % 1000 != current) ++stale;
    }
    return stale;
  }

  static std::size_t keys_on(std::size_t node) {
    return std::stoul(cluster_->cli(cluster_->node(node).port(), "DBSIZE"));
  }

  template <class T>
  static T run(asio::io_context& io, asio::awaitable<T> op) {
    auto done = asio::co_spawn(io, std::move(op), asio::use_future);
    io.restart();
    io.run();
    return done.get();
  }

  static std::unique_ptr<cachet_test::redis_cluster> cluster_;
};

std::unique_ptr<cachet_test::redis_cluster> ClusterBackend::cluster_;

TEST_F(ClusterBackend, EntriesAsyncManyAndRateLimitsSpreadOverEveryMaster) {
  {
    auto backend = make_backend("spread");
    item_cache f{*backend};
    constexpr long n = 300;
    for (long id = 0; id < n; ++id) EXPECT_EQ(f(id), id * 1000);
    EXPECT_EQ(app::loads, n);
    for (long id = 0; id < n; ++id) EXPECT_EQ(f(id), id * 1000);
    EXPECT_EQ(app::loads, n) << "every second call is a hit";
    const cachet::stats s = f.stats();
    EXPECT_EQ(s.hits, static_cast<std::uint64_t>(n));
    EXPECT_EQ(s.misses, static_cast<std::uint64_t>(n));
    EXPECT_EQ(s.backend_errors, 0u);
    for (std::size_t node = 0; node < 3; ++node) EXPECT_GT(keys_on(node), 50u) << "node " << node;

    // The 64 buckets' hash tags fall into 64 distinct slot ranges, ~21 per master.
    std::set<std::string> owners;
    auto& cluster = backend->cluster_connection();
    for (const auto& bucket : backend->runtime().layout().buckets()) {
      owners.insert(cluster.owner_of(cachet::resp3::cluster_slot(bucket.entry_base)));
    }
    EXPECT_EQ(owners.size(), 3u);
    EXPECT_EQ(backend->runtime().layout().size(), 64u);

    const cachet::health h = backend->health();
    EXPECT_TRUE(h.ready()) << h.last_error;
    EXPECT_NO_THROW(backend->verify());
    EXPECT_EQ(backend->last_error(), "");
    EXPECT_THROW(backend->connection(), cachet::error) << "a cluster has no single connection";
  }
  // The process-wide backend, configured by the URL alone (the only test here that uses it).
  {
    cachet::redis::configure(cachet_test::fast_config(cluster_->url()),
                             {.key_prefix = "cb-configured"});
    cachet::cached<&app::item, cachet::key<"item:{}">, cachet::backend<cachet::redis>> shared;
    app::loads = 0;
    for (long id = 0; id < 50; ++id) EXPECT_EQ(shared(id), id * 1000);
    for (long id = 0; id < 50; ++id) EXPECT_EQ(shared(id), id * 1000);
    EXPECT_EQ(app::loads, 50);
    EXPECT_EQ(shared.stats().hits, 50u);
    EXPECT_NE(cachet::redis::shared().runtime().link().cluster(), nullptr);
  }
  // async_many: one pipeline per node, the nodes in parallel, the answers in order.
  {
    auto backend = make_backend("many");
    item_cache f{*backend};
    for (long id = 0; id < 200; id += 2) f(id);
    std::vector<long> ids;
    for (long id = 199; id >= 0; --id) ids.push_back(id);
    app::loads = 0;
    asio::io_context io;
    const std::vector<long> got = run(io, f.async_many(ids));
    ASSERT_EQ(got.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(got[i], ids[i] * 1000) << i;
    EXPECT_EQ(app::loads, 100) << "the odd ids only";
    EXPECT_EQ(f.stats().hits, 100u);
    app::loads = 0;
    EXPECT_EQ(run(io, f.async(199)), 199000);
    EXPECT_EQ(app::loads, 0);
  }
  // Each limited key is one key in Redis, in the slot its own text hashes to: the limits of
  // many users spread over the masters, and each admits exactly its limit.
  {
    auto backend = make_backend("rate");
    cachet::manual_clock clock;
    cachet::redis::rate_limiter limiter{*backend, "api", 3, 1min, {.clock = &clock}};
    std::set<std::string> owners;
    auto& cluster = backend->cluster_connection();
    std::size_t admitted = 0;
    for (int user = 0; user < 40; ++user) {
      const std::string key = "user:" + std::to_string(user);
      for (int call = 0; call < 5; ++call) admitted += limiter.try_acquire(key) ? 1 : 0;
      owners.insert(cluster.owner_of(cachet::resp3::cluster_slot(limiter.redis_key(key))));
    }
    EXPECT_EQ(admitted, 40u * 3);
    EXPECT_EQ(limiter.fallbacks(), 0u);
    EXPECT_EQ(owners.size(), 3u);
    clock.advance(20s);
    EXPECT_TRUE(limiter.try_acquire("user:0")) << "one more after a third of the period";
    EXPECT_FALSE(limiter.try_acquire("user:0"));
  }
}

TEST_F(ClusterBackend, TagsClearAndEvictedCountersLeaveNoStaleRead) {
  {
    auto backend = make_backend("tags");
    item_cache f{*backend};
    constexpr long n = 200;
    EXPECT_EQ(stale_reads(f, n, 0), 0);
    app::generation = 1;
    f.invalidate_tag("items");
    app::loads = 0;
    EXPECT_EQ(stale_reads(f, n, 1), 0);
    EXPECT_EQ(app::loads, n);
    app::generation = 2;
    f.clear();
    app::loads = 0;
    EXPECT_EQ(stale_reads(f, n, 2), 0);
    EXPECT_EQ(app::loads, n);
    f.invalidate(7);
    app::loads = 0;
    EXPECT_EQ(stale_reads(f, n, 2), 0);
    EXPECT_EQ(app::loads, 1) << "invalidate(7) removed one entry";
    EXPECT_EQ(backend->pending_invalidations(), 0u);
  }
  // A counter that Redis evicted (here: deleted) holds no token, so it matches no entry: the
  // next read is a miss, never the entry it covered.
  {
    app::generation = 0;
    app::loads = 0;
    auto backend = make_backend("evicted");
    item_cache f{*backend};
    EXPECT_EQ(f(7), 7000);
    const auto& layout = backend->runtime().layout();
    const auto& bucket = layout.bucket(layout.bucket_of("item:7"));
    const std::string tag_counter = bucket.counter_base + "tag:items";
    auto& cluster = backend->cluster_connection();
    auto del = [&](const std::string& key) {
      asio::io_context io;
      return run(io, cluster.exec({.key = key, .args = {"DEL", key}})).as_int();
    };

    app::generation = 1;
    f.invalidate_tag("items");
    ASSERT_EQ(del(tag_counter), 1) << "the bucket's copy of the tag counter exists";
    app::loads = 0;
    EXPECT_EQ(f(7), 7001);
    EXPECT_EQ(app::loads, 1);
    EXPECT_EQ(f(7), 7001);
    EXPECT_EQ(app::loads, 1) << "the read that found the counter missing recreated it";

    asio::io_context io;
    const cachet::redis::value found = run(
        io,
        cluster.exec({.key = bucket.counter_base, .args = {"KEYS", bucket.counter_base + "fn:*"}}));
    ASSERT_EQ(found.as_array().size(), 1u) << "the bucket's copy of the function counter";
    ASSERT_EQ(del(found.as_array().front().as_string()), 1);
    EXPECT_EQ(f(7), 7001);
    EXPECT_EQ(app::loads, 2) << "a missing function counter is a miss too";
  }
}

// Master 0 is killed: the tag invalidation reaches the buckets of the other two masters only,
// throws, and is kept. The backend's calls skip Redis meanwhile (answered by the function, with
// the new data). Once the master is back, the replay bumps every bucket again; then neither this
// backend nor another process reads an older value.
TEST_F(ClusterBackend, AnInvalidationWithAMasterDownIsReplayedAfterItReturns) {
  auto writer = make_backend("outage");
  auto other = make_backend("outage");
  item_cache f{*writer};
  item_cache g{*other};
  constexpr long n = 120;
  EXPECT_EQ(stale_reads(f, n, 0), 0);
  EXPECT_EQ(stale_reads(g, n, 0), 0);
  EXPECT_EQ(app::loads, n) << "the other process hit every entry";

  cluster_->node(0).kill();
  app::generation = 1;
  EXPECT_THROW(f.invalidate_tag("items"), cachet::redis::request_error);
  EXPECT_EQ(writer->pending_invalidations(), 64u) << "every bucket's copy waits for the replay";
  EXPECT_NE(writer->last_error(), "");
  EXPECT_FALSE(writer->health().ready());
  EXPECT_EQ(f(1), 1001) << "with an invalidation pending, Redis is not read";
  EXPECT_GT(f.stats().backend_errors, 0u);

  cluster_->node(0).restart();
  cluster_->wait_until_stable();
  cluster_->wait_until(
      [&] {
        try {
          writer->replay_invalidations();
          return true;
        } catch (const cachet::error&) {
          return false;  // the client reconnects to the restarted master with a backoff
        }
      },
      "the replay is confirmed", 10s);
  EXPECT_EQ(writer->pending_invalidations(), 0u);
  EXPECT_EQ(stale_reads(g, n, 1), 0) << "the other process";
  EXPECT_EQ(stale_reads(f, n, 1), 0);
  EXPECT_TRUE(writer->health().ready());
}

TEST_F(ClusterBackend, TwoBackendsSeeEachOthersInvalidations) {
  auto first = make_backend("shared");
  auto second = make_backend("shared");
  item_cache f{*first};
  item_cache g{*second};
  constexpr long n = 150;
  EXPECT_EQ(stale_reads(f, n, 0), 0);
  EXPECT_EQ(stale_reads(g, n, 0), 0);
  EXPECT_EQ(app::loads, n);
  EXPECT_EQ(g.stats().hits, static_cast<std::uint64_t>(n));

  app::generation = 1;
  second->invalidate_tag("items");
  EXPECT_EQ(stale_reads(f, n, 1), 0);
  EXPECT_EQ(stale_reads(g, n, 1), 0);
  EXPECT_EQ(app::loads, 2 * n);

  app::generation = 2;
  f.clear();
  EXPECT_EQ(stale_reads(g, n, 2), 0);
  EXPECT_EQ(app::loads, 3 * n);
}

// Steady cached load on chosen records while the cluster changes: blocking callers on threads of
// their own and coroutines calling async() on another, and one caller that every few calls bumps
// a record's version and invalidates it, or bumps every record's and invalidates the tag. A value
// whose version is below the last one whose invalidation had returned before the call began is a
// stale read; a value of another record is a wrong one.
class cached_load {
 public:
  cached_load(record_cache& f, std::vector<long> ids) : f_(f), ids_(std::move(ids)) {
    for (std::size_t i = 0; i < ids_.size(); ++i)
      floors_.at(i) = app::record_versions.at(ids_[i]).load();
  }

  // Starts `blocking` caller threads (the first also invalidates) and one thread running
  // `coroutines` async() callers.
  void start(int blocking, int coroutines) {
    workers_ = static_cast<std::size_t>(blocking + coroutines);
    for (int w = 0; w < blocking; ++w)
      threads_.emplace_back([this, w] {
        for (std::size_t round = 0; !stop_; ++round) {
          for (std::size_t i = 0; i < ids_.size() && !stop_; ++i) {
            if (w == 0 && i % invalidate_every == 0) invalidate(round, i);
            const long floor = floors_.at(i).load();
            try {
              check(i, floor, f_(ids_[i]));
            } catch (const std::exception& e) {
              failed(e);
            }
          }
          ++rounds_.at(static_cast<std::size_t>(w));
        }
      });
    threads_.emplace_back([this, blocking, coroutines] {
      asio::io_context io;
      for (int c = 0; c < coroutines; ++c)
        asio::co_spawn(io, async_caller(static_cast<std::size_t>(blocking + c)), asio::detached);
      io.run();
    });
  }

  // Stops the callers and joins their threads.
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // Every caller has finished `rounds` rounds over the records since the last mark().
  bool rounds_done(long rounds) const {
    for (std::size_t w = 0; w < workers_; ++w)
      if (rounds_.at(w).load() < marks_.at(w) + rounds) return false;
    return true;
  }
  void mark() {
    for (std::size_t w = 0; w < workers_; ++w) marks_.at(w) = rounds_.at(w).load();
  }

  long calls() const { return calls_; }
  long wrong() const { return wrong_; }
  long stale() const { return stale_; }
  long failed_calls() const { return failed_calls_; }
  long invalidations() const { return invalidations_; }
  long failed_invalidations() const { return failed_invalidations_; }
  std::string last_failure() const {
    std::lock_guard lock(failure_mutex_);
    return last_failure_;
  }

 private:
  static constexpr std::size_t invalidate_every = 8;

  // Caller `w` starts its rounds at its own offset into the records.
  asio::awaitable<void> async_caller(std::size_t w) {
    while (!stop_) {
      for (std::size_t k = 0; k < ids_.size() && !stop_; ++k) {
        const std::size_t i = (k + w * 5) % ids_.size();
        const long floor = floors_.at(i).load();
        try {
          const long value = co_await f_.async(ids_[i]);
          check(i, floor, value);
        } catch (const std::exception& e) {
          failed(e);
        }
      }
      ++rounds_.at(w);
    }
  }

  // The first blocking caller alternates one record's invalidation and the tag's.
  void invalidate(std::size_t round, std::size_t i) {
    const bool whole_tag = (round + i / invalidate_every) % 2 == 1;
    try {
      if (whole_tag) {
        for (long id : ids_) ++app::record_versions.at(id);
        f_.invalidate_tag("records");
        for (std::size_t j = 0; j < ids_.size(); ++j)
          floors_.at(j) = app::record_versions.at(ids_[j]).load();
      } else {
        ++app::record_versions.at(ids_[i]);
        f_.invalidate(ids_[i]);
        floors_.at(i) = app::record_versions.at(ids_[i]).load();
      }
      ++invalidations_;
    } catch (const std::exception& e) {
      // Not confirmed, so it raises no floor; the backend keeps it and replays it first.
      ++failed_invalidations_;
      std::lock_guard lock(failure_mutex_);
      last_failure_ = e.what();
    }
  }

  void check(std::size_t i, long floor, long value) {
    ++calls_;
    if (value / app::record_stride != ids_[i]) ++wrong_;
    if (value % app::record_stride < floor) ++stale_;
  }

  void failed(const std::exception& e) {
    ++failed_calls_;
    std::lock_guard lock(failure_mutex_);
    last_failure_ = e.what();
  }

  record_cache& f_;
  std::vector<long> ids_;
  // floors_[i]: the version of ids_[i] whose invalidation has returned.
  std::array<std::atomic<long>, 64> floors_{};
  std::vector<std::thread> threads_;
  std::size_t workers_ = 0;
  std::atomic<bool> stop_{false};
  std::array<std::atomic<long>, 8> rounds_{};  // per caller: rounds over every record finished
  std::array<long, 8> marks_{};
  std::atomic<long> calls_{0}, wrong_{0}, stale_{0}, failed_calls_{0};
  std::atomic<long> invalidations_{0}, failed_invalidations_{0};
  mutable std::mutex failure_mutex_;
  std::string last_failure_;
};

// Three masters with one replica each, a fresh cluster for each test: a failover right after a
// reshard can leave the promoted replica unaware of the last slot moved to its master (Redis
// then reports cluster_state:fail on it for good), so the two changes are never chained.
class ClusterBackendUnderChange : public ClusterBackend {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}

 protected:
  void SetUp() override {
    ClusterBackend::SetUp();
    for (auto& version : app::record_versions) version = 0;
    cluster_ = std::make_unique<cachet_test::redis_cluster>(
        cachet_test::redis_cluster_options{.masters = 3, .replicas_per_master = 1});
  }
  void TearDown() override { cluster_.reset(); }

  static constexpr int blocking_callers = 3;
  static constexpr int async_callers = 2;
  static constexpr long rounds_before = 2;
  static constexpr long rounds_after = 3;

  // Up to `n` records whose entries live in bucket `bucket`.
  static std::vector<long> records_in(const cachet::detail::key_layout& layout, std::size_t bucket,
                                      std::size_t n) {
    std::vector<long> ids;
    for (long id = 0; id < app::record_ids && ids.size() < n; ++id)
      if (layout.bucket_of("record:" + std::to_string(id)) == bucket) ids.push_back(id);
    return ids;
  }

  static unsigned short port_of(const std::string& address) {
    return static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));
  }

  // The running replica of the master at `master_port` (its ROLE names the master's port).
  static cachet_test::private_redis_server& replica_of(unsigned short master_port) {
    for (auto* n : cluster_->with_role("slave")) {
      std::istringstream role(cluster_->cli(n->port(), "ROLE"));  // slave, host, port, ...
      std::string kind, host, port;
      std::getline(role, kind);
      std::getline(role, host);
      std::getline(role, port);
      if (port == std::to_string(master_port)) return *n;
    }
    throw std::runtime_error("no replica follows the master at port " +
                             std::to_string(master_port));
  }

  // What the load did while the cluster changed.
  struct change_figures {
    long calls = 0;
    long invalidations = 0;
    std::chrono::milliseconds took{0};
  };

  // Runs `change` (blocking redis-cli work) on this thread while the load runs, from a load
  // already steady to every caller's `rounds_after` rounds on the changed cluster.
  template <class Change>
  static change_figures under_load(cached_load& load, Change change) {
    load.start(blocking_callers, async_callers);
    std::string failure;
    change_figures during;
    try {
      load.mark();
      cluster_->wait_until([&] { return load.rounds_done(rounds_before); }, "the load is steady",
                           10s);
      const auto began = std::chrono::steady_clock::now();
      during = {-load.calls(), -load.invalidations()};
      change();
      during.calls += load.calls();
      during.invalidations += load.invalidations();
      during.took = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - began);
      load.mark();
      cluster_->wait_until([&] { return load.rounds_done(rounds_after); },
                           "the load ran on the changed cluster", 10s);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    load.stop();
    EXPECT_EQ(failure, "");
    EXPECT_GT(during.calls, 0) << "the load ran while the cluster changed";
    return during;
  }
};

// Bounds on failures under a reshard or a manual failover (see README "### Redis Cluster"): a
// cached call degrades to its function when Redis fails, so calls never throw; backend errors
// (calls answered without the cache) and invalidations that threw (kept and replayed) stay
// within these. The cluster client retries what had no effect (ASK, MOVED, TRYAGAIN,
// CLUSTERDOWN, READONLY), so none is expected; the bounds cover a request cut off mid-way.
constexpr std::uint64_t kBackendErrorBound = 8;
constexpr long kFailedInvalidationBound = 2;

// `redis-cli --cluster reshard` moves the lowest slots of the master holding bucket 0 (up to and
// including bucket 1's slot, so two buckets' entries and counters) to another master while the
// load runs on records of those two buckets and of two that stay.
TEST_F(ClusterBackendUnderChange, LiveReshardUnderCachedLoadHasNoStaleOrWrongValue) {
  auto backend = make_backend("reshard");
  record_cache f{*backend};
  const auto& layout = backend->runtime().layout();
  std::vector<long> ids;
  for (std::size_t bucket : {0u, 1u, 32u, 48u})
    for (long id : records_in(layout, bucket, 6)) ids.push_back(id);
  ASSERT_EQ(ids.size(), 24u);
  for (long id : ids) EXPECT_EQ(f(id), id * app::record_stride);  // the map is known

  auto& cluster = backend->cluster_connection();
  const auto slot_of = [&](std::size_t bucket) {
    return cachet::resp3::cluster_slot(layout.bucket(bucket).entry_base);
  };
  const std::string source = cluster.owner_of(slot_of(0));
  ASSERT_EQ(cluster.owner_of(0), source) << "reshard takes the source's lowest slots first";
  ASSERT_EQ(cluster.owner_of(slot_of(1)), source);
  std::string destination;
  for (const auto& m : cluster.masters())
    if (m != source) destination = m;
  const int moved_slots = slot_of(1) + 1;

  cached_load load(f, ids);
  const auto during = under_load(load, [&] {
    cluster_->cli(port_of(source), "--cluster reshard " + source + " --cluster-from " +
                                       cluster_->id_of(port_of(source)) + " --cluster-to " +
                                       cluster_->id_of(port_of(destination)) + " --cluster-slots " +
                                       std::to_string(moved_slots) + " --cluster-yes");
    cluster_->wait_until_stable();
  });
  const cachet::stats s = f.stats();
  std::cout << "[ figures  ] reshard of " << moved_slots << " slots (2 buckets) in "
            << during.took.count() << " ms, " << during.calls << " cached calls and "
            << during.invalidations << " invalidations during it; in all " << load.calls()
            << " cached calls, " << load.invalidations() << " invalidations, " << s.backend_errors
            << " backend errors, " << load.failed_invalidations() << " failed invalidations\n";
  EXPECT_EQ(load.wrong(), 0);
  EXPECT_EQ(load.stale(), 0);
  EXPECT_EQ(load.failed_calls(), 0) << load.last_failure();
  EXPECT_LE(s.backend_errors, kBackendErrorBound) << backend->last_error();
  EXPECT_LE(load.failed_invalidations(), kFailedInvalidationBound) << load.last_failure();
  EXPECT_GT(load.invalidations(), 10);
  EXPECT_GT(s.hits, 0u);

  EXPECT_GT(std::stoul(cluster_->cli(port_of(destination),
                                     "CLUSTER COUNTKEYSINSLOT " + std::to_string(slot_of(0)))),
            0u)
      << "bucket 0's keys moved with the slot";
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(cluster.owner_of(slot_of(0)), destination) << "the map followed MOVED";
}

// CLUSTER FAILOVER on the replica of the master holding bucket 0: a coordinated manual failover
// (the master pauses writes until the replica has caught up), so no acknowledged counter bump is
// lost and zero stale reads are required, unlike a master's crash (README).
TEST_F(ClusterBackendUnderChange, ReplicaFailoverUnderCachedLoadHasNoStaleOrWrongValue) {
  auto backend = make_backend("failover");
  record_cache f{*backend};
  const auto& layout = backend->runtime().layout();
  std::vector<long> ids;
  for (std::size_t bucket : {0u, 1u, 32u, 48u})
    for (long id : records_in(layout, bucket, 6)) ids.push_back(id);
  ASSERT_EQ(ids.size(), 24u);
  for (long id : ids) EXPECT_EQ(f(id), id * app::record_stride);

  auto& cluster = backend->cluster_connection();
  const auto slot = cachet::resp3::cluster_slot(layout.bucket(0).entry_base);
  const std::string master = cluster.owner_of(slot);
  auto& replica = replica_of(port_of(master));

  cached_load load(f, ids);
  const auto during = under_load(load, [&] {
    cluster_->cli(replica.port(), "CLUSTER FAILOVER");
    cluster_->wait_until([&] { return cluster_->role_of(replica.port()) == "master"; },
                         "the replica became master", 10s);
    cluster_->wait_until_stable();
  });
  const cachet::stats s = f.stats();
  std::cout << "[ figures  ] replica failover in " << during.took.count() << " ms, " << during.calls
            << " cached calls and " << during.invalidations << " invalidations during it; in all "
            << load.calls() << " cached calls, " << load.invalidations() << " invalidations, "
            << s.backend_errors << " backend errors, " << load.failed_invalidations()
            << " failed invalidations\n";
  EXPECT_EQ(load.wrong(), 0);
  EXPECT_EQ(load.stale(), 0);
  EXPECT_EQ(load.failed_calls(), 0) << load.last_failure();
  EXPECT_LE(s.backend_errors, kBackendErrorBound) << backend->last_error();
  EXPECT_LE(load.failed_invalidations(), kFailedInvalidationBound) << load.last_failure();
  EXPECT_GT(load.invalidations(), 10);
  EXPECT_GT(s.hits, 0u);
  EXPECT_EQ(backend->pending_invalidations(), 0u);
  EXPECT_EQ(cluster.owner_of(slot), "127.0.0.1:" + std::to_string(replica.port()));
}

}  // namespace
