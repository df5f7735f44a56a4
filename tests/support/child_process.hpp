#ifndef CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP
#define CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP

// Replicas as real processes: the test binary started again with a flag its main() recognises,
// killed with its parent (PR_SET_PDEATHSIG), and reaped with a bound.
//
//     pid_t child = cachet_test::start_child("--my-worker", {url, prefix});
//     EXPECT_TRUE(cachet_test::reaped_cleanly(child));

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "redis/degraded_test_support.hpp"

namespace cachet_test {

/// Starts this binary again as `<binary> <flag> <rest...>`; returns its pid (<= 0 if fork failed).
inline pid_t start_child(std::string_view flag, const std::vector<std::string>& rest) {
  std::vector<std::string> args = {"/proc/self/exe", std::string(flag)};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return child;
}

/// Waits up to a minute for `child` to exit (killing it after that); whether it exited with 0.
inline bool reaped_cleanly(pid_t child) {
  int status = -1;
  const bool reaped = wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; },
                                 std::chrono::seconds(60));
  if (!reaped) ::kill(child, SIGKILL);
  return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace cachet_test

#endif
