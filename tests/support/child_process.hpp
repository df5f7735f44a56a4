#ifndef CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP
#define CACHET_TEST_SUPPORT_CHILD_PROCESS_HPP

// Replicas as real processes: the test binary started again with a flag its main() recognises,
// killed with its parent (PR_SET_PDEATHSIG), and reaped with a bound.
//
//     pid_t child = cachet_test::start_child("--my-worker", {url, prefix});
//     EXPECT_TRUE(cachet_test::reaped_cleanly(child));

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "redis/degraded_test_support.hpp"
#include "start_child.hpp"

namespace cachet_test {

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
