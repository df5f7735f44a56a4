// The peer cachet's Redis backend is measured against: the memo a C++ user writes by hand without
// cachet, on hiredis (a blocking redisContext per thread): GET the key; on a hit parse the JSON
// with Boost.JSON; on a miss compute the value, serialise it and SET it with a TTL.
// bench/run_redis.sh runs it in the same round as redis-benchmark and bench/redis_bench.cpp, on the
// same server, with the same counters (p50_us, p99_us; items_per_second), so the ratios compare.
//
// The server: CACHET_BENCH_REDIS_URL when set, else the CTest fixture's, else a private
// redis-server started on first use (tests/support/redis_server.hpp), as in redis_bench.cpp.

#include <cachet/redis.hpp>

#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>
#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../tests/support/redis_server.hpp"

namespace {

namespace json = boost::json;
using bench_clock = std::chrono::steady_clock;

// What the memo caches: about 100 bytes of JSON, like redis-benchmark -d 100.
struct user {
  long id = 0;
  std::string name;
  std::string email;
};

void tag_invoke(const json::value_from_tag&, json::value& out, const user& u) {
  out = {{"id", u.id}, {"name", u.name}, {"email", u.email}};
}

user tag_invoke(const json::value_to_tag<user>&, const json::value& in) {
  const json::object& o = in.as_object();
  return {o.at("id").as_int64(), json::value_to<std::string>(o.at("name")),
          json::value_to<std::string>(o.at("email"))};
}

user load_user(long id) {
  return {id, "user number " + std::to_string(id) + " of the hiredis memo bench",
          "user" + std::to_string(id) + "@example.invalid"};
}

std::string server_url() {
  if (const char* url = std::getenv("CACHET_BENCH_REDIS_URL"); url != nullptr && *url != '\0')
    return url;
  return cachet_test::shared_redis_url();
}

struct context_deleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

context_ptr connect() {
  const auto cfg = cachet::redis::config::from_url(server_url());
  context_ptr c(redisConnect(cfg.host.c_str(), static_cast<int>(cfg.port)));
  if (!c || c->err)
    throw std::runtime_error("hiredis memo: cannot connect to " + cfg.host + ":" +
                             std::to_string(cfg.port) + (c ? std::string(": ") + c->errstr : ""));
  return c;
}

reply_ptr command(redisContext* c, const char* format, const std::string& a) {
  reply_ptr r(static_cast<redisReply*>(redisCommand(c, format, a.data(), a.size())));
  if (!r) throw std::runtime_error(std::string("hiredis memo: ") + c->errstr);
  if (r->type == REDIS_REPLY_ERROR)
    throw std::runtime_error("hiredis memo: " + std::string(r->str));
  return r;
}

std::string key_of(long id) {
  return "hiredis-memo-" + std::to_string(::getpid()) + ":user:" + std::to_string(id);
}

// The memo itself, as written by hand.
user get_user(redisContext* c, long id) {
  const std::string key = key_of(id);
  reply_ptr hit = command(c, "GET %b", key);
  if (hit->type == REDIS_REPLY_STRING)
    return json::value_to<user>(json::parse(json::string_view(hit->str, hit->len)));
  user u = load_user(id);
  const std::string text = json::serialize(json::value_from(u));
  reply_ptr stored(static_cast<redisReply*>(
      redisCommand(c, "SET %b %b EX 300", key.data(), key.size(), text.data(), text.size())));
  if (!stored) throw std::runtime_error(std::string("hiredis memo: ") + c->errstr);
  return u;
}

void report_latencies(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
}

// One blocking caller, every call a hit.
void memo_hit_latency(benchmark::State& state) {
  try {
    context_ptr c = connect();
    get_user(c.get(), 42);  // stores the entry
    std::vector<double> us;
    for (auto _ : state) {
      const auto start = bench_clock::now();
      user u = get_user(c.get(), 42);
      us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - start).count());
      benchmark::DoNotOptimize(u);
    }
    report_latencies(state, us);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(memo_hit_latency)->Name("latency/hiredis_memo_hit")->UseRealTime();

// Threads of blocking callers, each with its own connection (what a hand-written memo does),
// hitting a hot set of 100 keys.
void memo_hit_throughput(benchmark::State& state) {
  try {
    context_ptr c = connect();
    for (long id = 0; id < 100; ++id) get_user(c.get(), id);
    long id = state.thread_index();
    for (auto _ : state) {
      user u = get_user(c.get(), id++ % 100);
      benchmark::DoNotOptimize(u);
    }
    state.SetItemsProcessed(state.iterations());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(memo_hit_throughput)->Name("throughput/hiredis_memo_hit")->Threads(8)->UseRealTime();
BENCHMARK(memo_hit_throughput)->Name("throughput/hiredis_memo_hit")->Threads(64)->UseRealTime();

}  // namespace
