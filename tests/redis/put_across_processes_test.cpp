// put() and refresh() from one replica seen by another process (issue #12): the multi-process
// version of put_refresh_warm_test.cpp's two-backends-in-one-process tests. The other replica is
// this binary run again with --put-reader; the two coordinate through keys in Redis.
//
// The reader warms a key (for the tiered backend: into its memory tier, checked by
// stats().memory_tier_hits), says "ready", and waits. The test put()s or refresh()es the key from
// a backend of its own and says so; the reader then sync()s (tiered) and must answer the new value
// without calling its function. Its results come back through Redis keys.

#include <cachet/tiered.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"
#include "support/tiered_replica.hpp"

namespace app {

// The source of truth: a version in Redis, read through a connection of the process's own, and a
// count of this process's calls of the function.
cachet_test::data_connection* data = nullptr;
std::string data_prefix;
std::atomic<long> loads{0};

std::string data_key(std::string_view name) { return data_prefix + ":" + std::string(name); }

std::string load_name(long id) {
  loads.fetch_add(1);
  return "v" + std::to_string(data->get_long(data_key("version"))) + ":" + std::to_string(id);
}

}  // namespace app

namespace {

using namespace std::chrono_literals;
using replica = cachet_test::tiered_replica;
using tiers = cachet::tiered<cachet::memory, cachet::redis>;

constexpr std::string_view reader_flag = "--put-reader";
constexpr long id = 5;
// Reads the reader makes after the write; with the tiered backend all but the first from memory.
constexpr int reads_after = 20;

template <class Backend>
using name_cache = cachet::cached<&app::load_name, cachet::ttl<60>, cachet::key<"name:{}">,
                                  cachet::tags<"name-tag:{}">, cachet::backend<Backend>>;

enum class kind { redis, tiered };
enum class write { put, refresh };

std::string_view name_of(kind k) { return k == kind::redis ? "redis" : "tiered"; }
std::string_view name_of(write w) { return w == write::put ? "put" : "refresh"; }
void PrintTo(kind k, std::ostream* out) { *out << name_of(k); }
void PrintTo(write w, std::ostream* out) { *out << name_of(w); }

// Calls `names` `reads_after` times after the write; reports what it saw.
template <class Cache>
void report_after(Cache& names, cachet_test::data_connection& data) {
  const std::string expected = data.exec("GET", app::data_key("expected")).as_string();
  const auto memory_hits = names.stats().memory_tier_hits;
  const std::string after = names(id);
  long stale = after == expected ? 0 : 1;
  for (int i = 1; i < reads_after; ++i) {
    if (names(id) != expected) ++stale;
  }
  cachet::redis::request report;
  report.push("SET", app::data_key("after"), after);
  report.push("SET", app::data_key("stale"), stale);
  report.push("SET", app::data_key("memory_hits_after"),
              names.stats().memory_tier_hits - memory_hits);
  report.push("SET", app::data_key("loads"), app::loads.load());
  report.push("SET", app::data_key("backend_errors"), names.stats().backend_errors);
  report.push("SET", app::data_key("finished"), 1);
  data.exec(report);
}

void wait_for_the_write(cachet_test::data_connection& data) {
  if (!cachet_test::wait_until([&] { return data.get_long(app::data_key("written")) == 1; }, 30s)) {
    throw std::runtime_error("the test never wrote");
  }
}

// The reader process, on the tiered backend: warms its memory tier, waits for the write, sync()s
// so that the write's invalidation has reached memory, and reads.
int read_tiered(const std::string& url, const std::string& prefix,
                cachet_test::data_connection& data) {
  replica r(cachet_test::patient_config(url), prefix);
  if (!r.both.wait_coherent(10s)) throw std::runtime_error("tracking never came on");
  name_cache<tiers> names{r.both};
  // The first call computes and writes Redis; its own write comes back as an invalidation, so
  // memory keeps what the second call, a Redis hit, brings.
  const std::string first = names(id);
  r.both.sync();
  names(id);
  r.both.sync();
  const auto before = names.stats().memory_tier_hits;
  names(id);
  cachet::redis::request ready;
  ready.push("SET", app::data_key("first"), first);
  ready.push("SET", app::data_key("memory_hits_before"), names.stats().memory_tier_hits - before);
  ready.push("SET", app::data_key("ready"), 1);
  data.exec(ready);
  wait_for_the_write(data);
  r.both.sync();
  report_after(names, data);
  return 0;
}

// The reader process, on the Redis backend alone: no memory tier to drop, so no sync().
int read_redis(const std::string& url, const std::string& prefix,
               cachet_test::data_connection& data) {
  cachet::redis remote(cachet_test::patient_config(url),
                       cachet::redis_options{.key_prefix = prefix});
  name_cache<cachet::redis> names{remote};
  const std::string first = names(id);
  cachet::redis::request ready;
  ready.push("SET", app::data_key("first"), first);
  ready.push("SET", app::data_key("memory_hits_before"), 0);
  ready.push("SET", app::data_key("ready"), 1);
  data.exec(ready);
  wait_for_the_write(data);
  report_after(names, data);
  return 0;
}

int run_reader(const std::string& url, const std::string& prefix, std::string_view backend) {
  return cachet_test::run_child("put reader", url, app::data, [&](auto& data) {
    app::data_prefix = prefix + "-data";
    return backend == name_of(kind::tiered) ? read_tiered(url, prefix, data)
                                            : read_redis(url, prefix, data);
  });
}

class PutAcrossProcesses : public cachet_test::process_test,
                           public ::testing::WithParamInterface<std::tuple<kind, write>> {
 protected:
  PutAcrossProcesses() : process_test(app::data, app::data_prefix) {}
  void SetUp() override {
    process_test::SetUp();
    app::loads = 0;
  }

  std::string text(std::string_view name) {
    const cachet::redis::value v = data->exec("GET", app::data_key(name));
    return v.is_null() ? "(none)" : v.as_string();
  }

  // Starts the reader, waits until it is warm, lets `write_from_here` write, tells the reader;
  // returns whether the reader exited cleanly.
  template <class Write>
  bool run(Write write_from_here) {
    cachet_test::child_processes reader;
    if (!reader.start(reader_flag,
                      {url, prefix, std::string(name_of(std::get<kind>(GetParam())))})) {
      ADD_FAILURE() << "fork failed";
      return false;
    }
    if (!cachet_test::wait_until([&] { return data->get_long(app::data_key("ready")) == 1; },
                                 30s)) {
      ADD_FAILURE() << "the reader never got ready";
      return false;  // and it is killed
    }
    const std::string expected = write_from_here();
    cachet::redis::request written;
    written.push("SET", app::data_key("expected"), expected);
    written.push("SET", app::data_key("written"), 1);
    data->exec(written);
    return reader.reaped_cleanly();
  }

  template <class Backend>
  void check(Backend& backend) {
    name_cache<Backend> names{backend};
    const bool put = std::get<write>(GetParam()) == write::put;
    const bool tiered = std::get<kind>(GetParam()) == kind::tiered;
    const std::string expected = put ? "put:5" : "v1:5";
    const bool clean = run([&] {
      if (put) {
        names.put(id, "put:5");
      } else {
        data->exec("SET", app::data_key("version"), 1);
        EXPECT_EQ(names.refresh(id), "v1:5");
      }
      return expected;
    });
    EXPECT_TRUE(clean) << "the reader failed (see its stderr)";
    EXPECT_EQ(app::loads.load(), put ? 0 : 1) << "calls of the function here";
    ASSERT_EQ(text("finished"), "1");
    EXPECT_EQ(text("first"), "v0:5");
    EXPECT_EQ(text("memory_hits_before"), tiered ? "1" : "0")
        << "the reader's memory tier did not serve before the write";
    // A call that found Redis failing is answered by the function, which the counts below
    // would show as a stale read; this says so first.
    EXPECT_EQ(text("backend_errors"), "0") << "the reader's calls failed over to the function";
    EXPECT_EQ(text("after"), expected) << "the reader served the old value after the write";
    EXPECT_EQ(text("stale"), "0") << "of " << reads_after << " reads after the write";
    EXPECT_EQ(text("loads"), "1") << "the reader called its function again";
    EXPECT_EQ(text("memory_hits_after"), tiered ? std::to_string(reads_after - 1) : "0")
        << "the reader's memory tier did not keep the new value";
    EXPECT_EQ(names(id), expected);
  }
};

TEST_P(PutAcrossProcesses, ReaderSeesTheWriteWithoutACall) {
  if (std::get<kind>(GetParam()) == kind::tiered) {
    replica w(cachet_test::patient_config(url), prefix);
    ASSERT_TRUE(w.both.wait_coherent(10s));
    check(w.both);
  } else {
    cachet::redis remote(cachet_test::patient_config(url),
                         cachet::redis_options{.key_prefix = prefix});
    check(remote);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PutAcrossProcesses,
                         ::testing::Combine(::testing::Values(kind::tiered, kind::redis),
                                            ::testing::Values(write::put, write::refresh)),
                         [](const ::testing::TestParamInfo<std::tuple<kind, write>>& info) {
                           return std::string(name_of(std::get<kind>(info.param))) + "_" +
                                  std::string(name_of(std::get<write>(info.param)));
                         });

}  // namespace

// GoogleTest's own main, unless this binary was started as the reader process by a test above.
int main(int argc, char** argv) {
  if (argc == 5 && std::string_view(argv[1]) == reader_flag) {
    return run_reader(argv[2], argv[3], argv[4]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
