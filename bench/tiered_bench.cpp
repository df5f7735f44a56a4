// cachet::tiered<cachet::memory, cachet::redis> (issue #12) against its parts, in one run:
//
// - hit/memory_backend vs hit/tiered_memory: a hit on the memory backend and a hit on the tiered
//   backend's memory tier (the goal: at most 1.2x);
// - hot_set/redis vs hot_set/tiered: one thread calling over a hot set of keys, all cached;
// - propagation: an invalidate_tag on one replica until another replica's next call returns the
//   new value (replicas are backends with connections of their own, as processes have; p50_us,
//   p99_us);
// - propagation/processes: the same with the reader a real process, this binary started again as
//   a follower (--tiered-follower <url> <prefix>), which reports when its memory tier gave the new
//   value (steady_clock is one clock for the processes of a machine; p50_us, p99_us, max_us over
//   200 rounds). tests/redis/tiered_test.cpp checks the same as a test.
//
// The server: CACHET_BENCH_REDIS_URL when set, else the CTest fixture's, else a private one.

#include <cachet/tiered.hpp>

#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../tests/support/redis_server.hpp"
#include "../tests/support/start_child.hpp"

namespace {

using tiers = cachet::tiered<cachet::memory, cachet::redis>;
constexpr int hot_keys = 64;

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

std::atomic<long> source_version{0};
long load_version(int id) { return source_version.load() * 1000 + id; }

// The same policies on every backend: a memory-backend hit checks the tag's counter as well.
using memory_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                    cachet::tags<"bench-tag:{}">>;
using redis_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                   cachet::tags<"bench-tag:{}">, cachet::backend<cachet::redis>>;
using tiered_cache = cachet::cached<&load_version, cachet::ttl<300>, cachet::key<"bench-tiered:{}">,
                                    cachet::tags<"bench-tag:{}">, cachet::backend<tiers>>;

// One replica: memory, a Redis backend of its own, the tiers over them.
struct replica {
  explicit replica(const std::string& prefix, const std::string& url = server_url())
      : remote(config(url), cachet::redis_options{.key_prefix = prefix}), both(mem, remote) {
    if (!both.wait_coherent(std::chrono::seconds(10))) {
      throw std::runtime_error("tiered_bench: client tracking never came on");
    }
  }
  static cachet::redis::config config(const std::string& url = server_url()) {
    auto cfg = cachet::redis::config::from_url(url);
    cfg.request_timeout = std::chrono::milliseconds(5000);
    return cfg;
  }
  cachet::memory mem;
  cachet::redis remote;
  tiers both;
};

std::string prefix(const char* what) {
  return "cachet-bench-" + std::to_string(::getpid()) + "-" + what;
}

void hit_memory_backend(benchmark::State& state) {
  cachet::memory mem;
  memory_cache cache{mem};
  benchmark::DoNotOptimize(cache(1));
  for (auto _ : state) benchmark::DoNotOptimize(cache(1));
}
BENCHMARK(hit_memory_backend)->Name("hit/memory_backend");

void hit_tiered_memory(benchmark::State& state) {
  try {
    replica r(prefix("hit"));
    tiered_cache cache{r.both};
    cache(1);
    r.both.sync();  // its own write came back as an invalidation: the next call fills memory
    cache(1);
    r.both.sync();
    const auto before = cache.stats().memory_tier_hits;
    for (auto _ : state) benchmark::DoNotOptimize(cache(1));
    if (cache.stats().memory_tier_hits - before != static_cast<std::uint64_t>(state.iterations())) {
      state.SkipWithError("tiered_bench: a call missed the memory tier");
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hit_tiered_memory)->Name("hit/tiered_memory");

template <class Cache, class Backend>
void hot_set(benchmark::State& state, Cache& cache, Backend& warm) {
  for (int k = 0; k < hot_keys; ++k) cache(k);
  warm();
  for (int k = 0; k < hot_keys; ++k) cache(k);
  warm();
  int k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache(k));
    k = (k + 1) % hot_keys;
  }
  state.SetItemsProcessed(state.iterations());
}

void hot_set_redis(benchmark::State& state) {
  try {
    cachet::redis remote(replica::config(), cachet::redis_options{.key_prefix = prefix("hot")});
    redis_cache cache{remote};
    auto nothing = [] {};
    hot_set(state, cache, nothing);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hot_set_redis)->Name("hot_set/redis")->UseRealTime();

void hot_set_tiered(benchmark::State& state) {
  try {
    replica r(prefix("hot-tiered"));
    tiered_cache cache{r.both};
    auto sync = [&] { r.both.sync(); };
    hot_set(state, cache, sync);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(hot_set_tiered)->Name("hot_set/tiered")->UseRealTime();

// From the call of invalidate_tag on one replica until the other's next call returns the new
// value (it spins on its memory tier until then).
void propagation(benchmark::State& state) {
  try {
    const std::string p = prefix("propagation");
    replica writer(p);
    replica reader(p);
    tiered_cache writes{writer.both};
    tiered_cache reads{reader.both};
    std::vector<double> us;
    for (auto _ : state) {
      reads(7);
      reader.both.sync();
      reads(7);  // in memory now
      const long wanted = load_version(7) + 1000;
      source_version.fetch_add(1);
      const auto start = std::chrono::steady_clock::now();
      writes.invalidate_tag("bench-tag:7");
      while (reads(7) != wanted) {
      }
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
      return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(propagation)->Name("propagation")->UseRealTime();

// Across processes. The follower talks to the bench over a socket (its standard input), one
// int64 per message, so each side blocks on the other's word instead of polling Redis keys.

constexpr std::string_view follower_flag = "--tiered-follower";
constexpr auto follower_start_limit = std::chrono::seconds(30);
constexpr auto round_limit = std::chrono::seconds(10);
constexpr auto follower_exit_limit = std::chrono::seconds(30);

void send_message(int fd, std::int64_t message) {
  const auto* bytes = reinterpret_cast<const char*>(&message);
  std::size_t sent = 0;
  while (sent < sizeof message) {
    // MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE that ends the bench.
    const ssize_t n = ::send(fd, bytes + sent, sizeof message - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("tiered_bench: the follower's channel broke");
    sent += static_cast<std::size_t>(n);
  }
}

// The next message, or nullopt at the end of the stream (the other side closed it or died);
// throws after `limit` without one.
std::optional<std::int64_t> receive_message(int fd, std::chrono::steady_clock::duration limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  std::int64_t message = 0;
  auto* bytes = reinterpret_cast<char*>(&message);
  std::size_t got = 0;
  while (got < sizeof message) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
    const int polled = left.count() > 0 ? ::poll(&ready, 1, static_cast<int>(left.count())) : 0;
    if (polled < 0 && errno == EINTR) continue;
    if (polled < 0) throw std::runtime_error("tiered_bench: poll on the follower's channel failed");
    if (polled == 0) throw std::runtime_error("tiered_bench: no word on the follower's channel");
    const ssize_t n = ::recv(fd, bytes + got, sizeof message - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("tiered_bench: the follower's channel broke");
    if (n == 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return message;
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The follower: a replica of its own (memory, Redis, tiers; the source of truth its own
// source_version, as the reader's is in "propagation"). Per round it gets the round's number,
// makes sure key 7 is in its memory tier, moves its source to that version, says it is armed,
// spins on its memory tier until the new value comes, and sends when it saw it.
int run_follower(const std::string& url, const std::string& p) {
  constexpr int channel = STDIN_FILENO;
  try {
    replica r(p, url);
    tiered_cache reads{r.both};
    send_message(channel, 0);  // tracking is on
    while (const auto round = receive_message(channel, std::chrono::seconds(60))) {
      // Its own write (the last round's miss) comes back as an invalidation: after sync() the
      // next call fills memory, and the one after must be a memory hit.
      reads(7);
      r.both.sync();
      reads(7);
      const auto hits = reads.stats().memory_tier_hits;
      reads(7);
      if (reads.stats().memory_tier_hits != hits + 1) {
        throw std::runtime_error("key 7 is not in the memory tier before the round");
      }
      source_version.store(*round);
      const long wanted = load_version(7);
      send_message(channel, *round);
      // yield: its tracking thread, Redis and the bench may share the core this spins on.
      while (reads(7) != wanted) std::this_thread::yield();
      send_message(channel, steady_now_ns());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tiered_bench follower %d: %s\n", static_cast<int>(::getpid()), e.what());
    return 1;
  }
}

// The follower process and the bench's end of its channel. Killed and reaped if the bench leaves
// early (no zombie; PR_SET_PDEATHSIG, set by start_child, leaves no orphan if the bench dies).
class follower {
 public:
  follower(const std::string& url, const std::string& p)
      : pid_(cachet_test::start_child(follower_flag, {url, p}, &channel_)) {
    if (pid_ <= 0) throw std::runtime_error("tiered_bench: cannot start the follower");
  }
  follower(const follower&) = delete;
  follower& operator=(const follower&) = delete;
  ~follower() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
    if (channel_ >= 0) ::close(channel_);
  }

  void send(std::int64_t message) { send_message(channel_, message); }
  std::int64_t receive(std::chrono::steady_clock::duration limit) {
    const auto message = receive_message(channel_, limit);
    if (!message) throw std::runtime_error("tiered_bench: the follower exited (see its stderr)");
    return *message;
  }

  // Ends the follower's input, so its loop ends, and waits (bounded) for the end of its output,
  // which its exit closes; whether it exited with 0.
  bool finish() {
    ::shutdown(channel_, SHUT_WR);
    bool ended = false;
    try {
      ended = !receive_message(channel_, follower_exit_limit);
    } catch (const std::exception&) {
    }
    if (!ended) ::kill(pid_, SIGKILL);
    const int status = reap();
    return ended && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  int reap() {
    int status = -1;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

  int channel_ = -1;
  pid_t pid_;
};

// From the call of invalidate_tag here until the follower's memory tier gave the new value.
void propagation_processes(benchmark::State& state) {
  try {
    const std::string url = server_url();
    const std::string p = prefix("processes");
    follower reader(url, p);  // forked before this process starts the writer's threads
    replica writer(p, url);
    tiered_cache writes{writer.both};
    if (reader.receive(follower_start_limit) != 0) throw std::runtime_error("follower: bad hello");
    std::vector<double> us;
    std::int64_t round = 0;
    for (auto _ : state) {
      reader.send(++round);
      if (reader.receive(round_limit) != round) throw std::runtime_error("follower: out of step");
      const std::int64_t start = steady_now_ns();
      writes.invalidate_tag("bench-tag:7");
      us.push_back(static_cast<double>(reader.receive(round_limit) - start) / 1000.0);
    }
    if (!reader.finish()) throw std::runtime_error("tiered_bench: the follower failed");
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
      return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.counters["max_us"] = us.back();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
// A fixed number of rounds: one follower per run, and a short smoke run under ctest too.
BENCHMARK(propagation_processes)->Name("propagation/processes")->UseRealTime()->Iterations(200);

}  // namespace

// Google Benchmark's main, unless this binary was started as the follower of
// propagation/processes.
int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == follower_flag) {
    return run_follower(argv[2], argv[3]);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
