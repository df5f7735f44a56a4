#ifndef CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP
#define CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP

// Replicas as real processes: the test binary started again with a flag its main() recognises,
// killed with its parent (PR_SET_PDEATHSIG; see start_child.hpp), and reaped with a bound. The test
// and its children meet through keys in Redis ("<test prefix>-data:..."), each through a connection
// of its own.
//
//     // the test (fixture cachet_test::process_test):
//     cachet_test::child_processes readers;
//     ASSERT_TRUE(readers.start("--my-worker", {url, prefix}, 3)) << "fork failed";
//     ...  EXPECT_TRUE(readers.reaped_cleanly());
//
//     // the child, which main() runs when argv[1] is "--my-worker":
//     return cachet_test::run_child("my worker", url, app::data, [&](data_connection& data) {
//       ...  return 0;
//     });

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/consistency_test_support.hpp"
#include "redis/degraded_test_support.hpp"
#include "support/redis_server.hpp"
#include "support/start_child.hpp"

namespace cachet_test {

/// Waits up to a minute for `child` to exit (killing it after that); whether it exited with 0.
inline bool reaped_cleanly(pid_t child) {
  int status = -1;
  const bool reaped = wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; },
                                 std::chrono::seconds(60));
  if (!reaped) ::kill(child, SIGKILL);
  return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// The children one test starts. Those it has not reaped when it ends (an assertion returned
/// early) are killed and reaped then, so that none outlives its test.
class child_processes {
 public:
  child_processes() = default;
  child_processes(const child_processes&) = delete;
  child_processes& operator=(const child_processes&) = delete;

  ~child_processes() {
    kill();
    for (pid_t child : running_) {
      int status = 0;
      ::waitpid(child, &status, 0);
    }
  }

  /// Starts `count` more as `<binary> <flag> <rest...>`; false as soon as a fork fails.
  bool start(std::string_view flag, const std::vector<std::string>& rest, int count = 1) {
    for (int i = 0; i < count; ++i) {
      const pid_t child = start_child(flag, rest);
      if (child <= 0) return false;
      running_.push_back(child);
    }
    return true;
  }

  /// Kills every one (a crash the test stages); they are still to be reaped.
  void kill() {
    for (pid_t child : running_) ::kill(child, SIGKILL);
  }

  /// Reaps every one (reaped_cleanly); whether each exited with 0.
  bool reaped_cleanly() {
    bool clean = true;
    for (pid_t child : running_) clean = cachet_test::reaped_cleanly(child) && clean;
    running_.clear();
    return clean;
  }

 private:
  std::vector<pid_t> running_;
};

/// A child's body, as its main() runs it: `body(data)` with `data` a connection of its own to
/// `url`, which `global` (the one the functions it caches read through) points to meanwhile. What
/// body returns is the exit status; an exception is written to stderr as "<who> <pid>: <what>"
/// and exits with 1.
template <class Body>
int run_child(std::string_view who, const std::string& url, data_connection*& global, Body body) {
  try {
    data_connection data{url};
    global = &data;
    const int status = body(data);
    global = nullptr;
    return status;
  } catch (const std::exception& e) {
    global = nullptr;
    std::fprintf(stderr, "%.*s %d: %s\n", static_cast<int>(who.size()), who.data(),
                 static_cast<int>(::getpid()), e.what());
    return 1;
  }
}

/// The fixture of a test that meets its children in Redis: the shared server's `url`, the test's
/// own key `prefix`, and `data`, a connection of this process's own, which the test file's
/// `global` points to during the test; `data_prefix` ("<prefix>-data") is where they meet.
class process_test : public ::testing::Test {
 protected:
  process_test(data_connection*& global, std::string& data_prefix)
      : global_(global), data_prefix_(data_prefix) {}

  void SetUp() override {
    prefix = test_prefix();
    data_prefix_ = prefix + "-data";
    data = std::make_unique<data_connection>(url);
    global_ = data.get();
  }
  void TearDown() override { global_ = nullptr; }

  const std::string url = shared_redis_url();
  std::string prefix;
  std::unique_ptr<data_connection> data;

 private:
  data_connection*& global_;
  std::string& data_prefix_;
};

}  // namespace cachet_test

#endif
