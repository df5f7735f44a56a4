#ifndef CACHET_TESTS_SUPPORT_REDIS_SERVER_HPP
#define CACHET_TESTS_SUPPORT_REDIS_SERVER_HPP

// Test support: real redis-server processes for the redis tests (never a mock).
//
//   cachet_test::private_redis_server server;          // own server: may be
//   killed/paused/restarted auto cfg = cachet::redis::config::from_url(server.url());
//   server.pause();  ...  server.resume();
//
//   std::string url = cachet_test::shared_redis_url();  // CTest fixture's server, or a private one

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace cachet_test {

namespace detail {

/// Throws std::runtime_error naming the failed system call and errno's text.
[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::runtime_error("cachet_test: " + what + ": " + std::strerror(errno));
}

/// The full path of `program` found in $PATH (execve does not search).
inline std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("cachet_test: " + program + " not found in PATH; install redis-server");
}

/// A loopback port that was free a moment ago: bind port 0, read the kernel's choice back.
inline unsigned short free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("bind/getsockname on 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// True when a server on 127.0.0.1:port answers a PING with +PONG (or a -LOADING/-NOAUTH error,
/// which still proves it is up and speaking RESP) within a short bound.
inline bool answers_ping(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char ping[] = "PING\r\n";
    if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof ping - 1)) {
      char reply[64];
      ssize_t n = ::recv(fd, reply, sizeof reply, 0);
      ok = n > 0 && (reply[0] == '+' || reply[0] == '-');
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace detail

/// A redis-server child process owned by the test (RAII), for tests that kill, pause or restart
/// their server. Runs in the foreground (no daemonize) so signals reach it; listens on a free
/// loopback port; persistence is off; DEBUG is enabled for local connections. The destructor
/// always stops the process and removes its temporary directory. The server is also SIGKILLed
/// if the thread that started it (or restart()ed it) exits, so a crashed test leaves no server
/// behind: start servers from the test's main thread or a thread that outlives them.
class private_redis_server {
 public:
  /// Starts the server; `extra_args` are appended to the command line (e.g. {"--maxclients", "5"}).
  /// A non-empty `config_text` is written to redis.conf in the server's directory and given as
  /// its configuration file, which a sentinel (`--sentinel`) needs: it rewrites it with its state.
  explicit private_redis_server(std::vector<std::string> extra_args = {},
                                const std::string& config_text = {})
      : extra_args_(std::move(extra_args)) {
    char pattern[] = "/tmp/cachet-redis-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) detail::throw_errno("mkdtemp");
    dir_ = pattern;
    if (!config_text.empty()) {
      config_file_ = (dir_ / "redis.conf").string();
      std::ofstream(config_file_) << config_text;
    }
    // The free port can be taken by someone else between probing and redis binding it; then the
    // server exits at once and we try another port.
    for (int attempt = 0;; ++attempt) {
      port_ = detail::free_loopback_port();
      try {
        start();
        return;
      } catch (const std::exception&) {
        if (attempt == 4) {
          std::filesystem::remove_all(dir_);
          throw;
        }
      }
    }
  }

  private_redis_server(const private_redis_server&) = delete;
  private_redis_server& operator=(const private_redis_server&) = delete;

  ~private_redis_server() {
    try {
      stop();
    } catch (...) {
      // A destructor must not throw; the child is SIGKILLed by stop() before anything can throw.
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// The loopback port the server listens on (stable across restart()).
  unsigned short port() const { return port_; }
  /// `redis://127.0.0.1:<port>`.
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// The child's pid, or -1 when it is not running.
  pid_t pid() const { return pid_; }
  /// The server's working directory (holds redis.log).
  const std::filesystem::path& dir() const { return dir_; }

  /// True while the child process exists (it may be paused).
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  /// SIGTERM (after SIGCONT, in case it is paused) and reap; SIGKILL if it has not exited in 5 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    if (!reap_within(std::chrono::seconds(5))) {
      ::kill(pid_, SIGKILL);
      reap_within(std::chrono::seconds(30));
    }
    pid_ = -1;
  }

  /// SIGKILL and reap: the server dies without closing its sockets gracefully.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reap_within(std::chrono::seconds(30));
    pid_ = -1;
  }

  /// SIGSTOP: the server keeps its sockets open but answers nothing (a hung peer).
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }

  /// SIGCONT: undoes pause().
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  /// Stops the server if it runs, then starts it again on the same port and directory.
  void restart() {
    stop();
    start();
  }

  /// The tail of the server's log, for failure messages.
  std::string log() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  void start() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.string(),
                                     "--logfile",
                                     (dir_ / "redis.log").string(),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--daemonize",
                                     "no",
                                     "--enable-debug-command",
                                     "local"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    if (!config_file_.empty()) args.insert(args.begin() + 1, config_file_);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // fork + execv rather than posix_spawn, to set PR_SET_PDEATHSIG: if the test process dies
    // (crash, timeout kill) the server dies with it instead of lingering. The child only makes
    // async-signal-safe calls (the process may have threads), with everything prepared here.
    const std::string binary = detail::find_in_path("redis-server");
    const pid_t parent = ::getpid();
    pid_t child = ::fork();
    if (child < 0) detail::throw_errno("fork");
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(null_fd, STDOUT_FILENO);
        ::dup2(null_fd, STDERR_FILENO);
      }
      ::execve(binary.c_str(), argv.data(), environ);
      ::_exit(127);
    }
    pid_ = child;

    // Bounded polling of a condition: the server answers PING, or the child has exited.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!detail::answers_ping(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("cachet_test: redis-server exited during startup on port " +
                                 std::to_string(port_) + "; log:\n" + log());
      }
      if (std::chrono::steady_clock::now() > give_up) {
        stop();
        throw std::runtime_error(
            "cachet_test: redis-server did not answer PING within 10 s; log:\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  bool reap_within(std::chrono::steady_clock::duration limit) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) return true;
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::vector<std::string> extra_args_;
  std::string config_file_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

/// The URL of the redis-server shared by the test process: the CTest fixture's (file named by env
/// CACHET_TEST_REDIS_URL_FILE, single line `redis://127.0.0.1:<port>`), or else a private server
/// started on first call and stopped at process exit.
inline std::string shared_redis_url() {
  if (const char* file = std::getenv("CACHET_TEST_REDIS_URL_FILE"); file != nullptr && *file) {
    std::ifstream in(file);
    std::string line;
    if (!std::getline(in, line))
      throw std::runtime_error(std::string("cachet_test: cannot read a URL from ") + file +
                               " (CACHET_TEST_REDIS_URL_FILE); is the redis fixture running?");
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\n'))
      line.pop_back();
    return line;
  }
  static private_redis_server server;
  static std::mutex guard;
  std::lock_guard lock(guard);
  // Killed with the thread that started it (see private_redis_server): start it again.
  if (!server.running()) server.restart();
  return server.url();
}

}  // namespace cachet_test

#endif
