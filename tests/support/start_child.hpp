#ifndef CACHET_TEST_SUPPORT_START_CHILD_HPP
#define CACHET_TEST_SUPPORT_START_CHILD_HPP

// Replicas as real processes: this binary started again with a flag its main() recognises and
// killed with its parent (PR_SET_PDEATHSIG), so a failing test or bench leaves no orphan. No
// GoogleTest here: bench/ starts followers too (reaping with a bound: child_process.hpp).
//
//     pid_t child = cachet_test::start_child("--my-worker", {url, prefix});
//     int channel = -1;  // or with a socket to it, the child's standard input
//     pid_t talker = cachet_test::start_child("--my-worker", {url, prefix}, &channel);

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

namespace cachet_test {

/// Starts this binary again as `<binary> <flag> <rest...>`; returns its pid (<= 0 if fork or
/// socketpair failed). With `channel`, the child's standard input is one end of a stream socket
/// pair (it reads and writes there) and `*channel` the parent's end, close-on-exec: messages both
/// ways that a side can block on, instead of polling Redis keys.
inline pid_t start_child(std::string_view flag, const std::vector<std::string>& rest,
                         int* channel = nullptr) {
  std::vector<std::string> args = {"/proc/self/exe", std::string(flag)};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int ends[2] = {-1, -1};
  if (channel != nullptr && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return -1;
  }
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here: the parent may have other threads.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // dup2 drops close-on-exec from the copy; if the end is already fd 0 (the parent's stdin
    // was closed), fcntl must drop it.
    if (channel != nullptr) {
      if (ends[1] == STDIN_FILENO) {
        if (::fcntl(STDIN_FILENO, F_SETFD, 0) != 0) ::_exit(127);
      } else if (::dup2(ends[1], STDIN_FILENO) != STDIN_FILENO) {
        ::_exit(127);
      }
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (channel != nullptr) {
    ::close(ends[1]);
    if (child > 0) {
      *channel = ends[0];
    } else {
      ::close(ends[0]);
    }
  }
  return child;
}

}  // namespace cachet_test

#endif
