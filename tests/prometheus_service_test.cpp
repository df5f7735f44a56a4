// Starts examples/prometheus_service.cpp as its own process and reads /metrics over HTTP, as
// Prometheus would.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

#ifdef CACHET_EXAMPLE_prometheus_service
[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// The example serving /metrics on a free port until its standard input closes.
class service_process {
 public:
  explicit service_process(const char* binary) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw_errno("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork");
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::close(in[0]);
      ::close(in[1]);
      ::close(out[0]);
      ::close(out[1]);
      ::execl(binary, binary, "--serve", "127.0.0.1:0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = ::fdopen(out[0], "r");
    char line[256];
    if (stdout_ == nullptr || std::fgets(line, sizeof line, stdout_) == nullptr) {
      throw std::runtime_error("the service said nothing");
    }
    if (std::sscanf(line, "listening on port %d", &port_) != 1) {
      throw std::runtime_error(std::string("unexpected first line: ") + line);
    }
  }

  service_process(const service_process&) = delete;
  service_process& operator=(const service_process&) = delete;

  ~service_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdin_ >= 0) ::close(stdin_);
    if (stdout_ != nullptr) std::fclose(stdout_);
  }

  int port() const { return port_; }

  // Closes its standard input, which ends it; returns its exit status.
  int stop() {
    ::close(stdin_);
    stdin_ = -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) throw_errno("waitpid");
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::FILE* stdout_ = nullptr;
  int port_ = 0;
};

// One HTTP/1.0 GET on 127.0.0.1:port; the whole response, headers included.
std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw_errno("connect");
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw_errno("send");
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

TEST(prometheus_service, serves_the_caches_metrics_over_http) {
  service_process service(CACHET_EXAMPLE_prometheus_service);
  const std::string response = http_get(service.port(), "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("# TYPE cachet_hits_total counter"), std::string::npos) << response;
  EXPECT_NE(response.find("cachet_hits_total{cache=\"users\"} 1"), std::string::npos) << response;
  EXPECT_NE(response.find("cachet_misses_total{cache=\"users\"} 3"), std::string::npos);
  EXPECT_NE(response.find("cachet_loads_total{cache=\"users\"} 2"), std::string::npos);
  EXPECT_NE(response.find("cachet_load_errors_total{cache=\"users\"} 1"), std::string::npos);
  EXPECT_NE(response.find("cachet_load_duration_seconds_count{cache=\"users\"} 2"),
            std::string::npos);
  EXPECT_EQ(service.stop(), 0);
}
#else
TEST(prometheus_service, serves_the_caches_metrics_over_http) {
  GTEST_SKIP() << "examples are not built (CACHET_BUILD_EXAMPLES=OFF)";
}
#endif

}  // namespace
