// GET throughput of cluster_client on a Redis Cluster against client on one server: `workers`
// coroutines on one io_context each GET keys spread over all slots, for `seconds`.
// Usage: cluster_bench <url> <seconds> <workers>   (redis-cluster:// or redis:// URL)

#include <cachet/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
constexpr int key_count = 1000;

std::string key_of(int i) { return "bench:cluster:" + std::to_string(i); }

cachet::resp3::cluster_command get_of(int i) {
  return {.key = key_of(i), .args = std::vector<std::string>{"GET", key_of(i)}};
}

cachet::resp3::cluster_command set_of(int i) {
  return {.key = key_of(i), .args = std::vector<std::string>{"SET", key_of(i), "value"}};
}

// Runs `get(i)` in `workers` loops until `until`; returns the number of replies.
template <class Get>
long run(asio::io_context& io, int workers, clock_type::time_point until, Get get) {
  long done = 0;
  int running = workers;
  for (int w = 0; w < workers; ++w) {
    asio::co_spawn(
        io,
        [&, w]() -> asio::awaitable<void> {
          for (int i = w; clock_type::now() < until; i = (i + workers) % key_count) {
            co_await get(i);
            ++done;
          }
          if (--running == 0) io.stop();  // the client's health check would keep run() going
        },
        asio::detached);
  }
  io.run();
  return done;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cluster_bench <url> <seconds> <workers>\n");
    return 2;
  }
  const auto cfg = cachet::resp3::config::from_url(argv[1]);
  const int seconds = std::atoi(argv[2]);
  const int workers = std::atoi(argv[3]);
  asio::io_context io;
  long done = 0;
  if (!cfg.cluster.seeds.empty()) {
    cachet::resp3::cluster_client c(io.get_executor(), cfg);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < key_count; ++i) co_await c.exec(set_of(i));
          io.stop();
        },
        asio::detached);
    io.run();
    io.restart();
    done = run(io, workers, clock_type::now() + std::chrono::seconds(seconds),
               [&](int i) { return c.exec(get_of(i)); });
  } else {
    cachet::resp3::client c(io.get_executor(), cfg);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < key_count; ++i) co_await c.exec("SET", key_of(i), "value");
          io.stop();
        },
        asio::detached);
    io.run();
    io.restart();
    done = run(io, workers, clock_type::now() + std::chrono::seconds(seconds),
               [&](int i) { return c.exec("GET", key_of(i)); });
  }
  std::printf("%.1f k GET/s\n", static_cast<double>(done) / seconds / 1000.0);
  return 0;
}
